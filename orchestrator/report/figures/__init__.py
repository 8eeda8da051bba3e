"""Drawing the report's figures with matplotlib (Agg, no display): one function per kind of
figure, the data of `analysis.layout.Figure` in and PNG or SVG bytes out (`render.render`)."""
