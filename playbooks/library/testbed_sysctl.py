#!/usr/bin/python
"""Ansible module: set kernel parameters in the running kernel, reporting a change only for
values that differ. Unlike ansible.posix.sysctl it writes no file, which is what a network
namespace of an emulated lab needs (its net.* values live and die with the namespace), it needs
only ansible-core, and it sets many parameters in one call (one SSH round trip per host)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: testbed_sysctl
short_description: Set kernel parameters in the running kernel
description:
  - Writes /proc/sys/NAME for every parameter whose current value differs from the wanted one;
    whitespace-separated values such as C(net.ipv4.ip_local_port_range) compare field by field.
  - Namespaced parameters (most of net.*) apply to the host's network namespace.
  - With O(settable_only), a parameter this host cannot set (read-only in a container, whose
    kernel is shared: fs.*, kernel.*; or absent from a network namespace, such as
    C(net.core.netdev_max_backlog)) is not a failure: it is reported in RV(not_settable)
    with its current value, and left as it is.
options:
  values:
    description: Parameters (dotted names, e.g. C(net.core.somaxconn)) and their values.
    required: true
    type: dict
  settable_only:
    description: Report parameters that cannot be written here instead of failing.
    type: bool
    default: false
author: testbed
"""

EXAMPLES = r"""
- name: Deep accept queues, wide port range
  testbed_sysctl:
    values:
      net.core.somaxconn: "65535"
      net.ipv4.ip_local_port_range: "1024 65535"
"""

RETURN = r"""
changed_values:
  description: The parameters that were changed, with their previous values.
  returned: always
  type: dict
not_settable:
  description: >-
    Parameters this host cannot set, each with a line saying so and its current value
    ("not settable here, value 1048576"; "not present here" when absent).
  returned: always
  type: dict
"""

import errno  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def main():
    module = AnsibleModule(
        argument_spec={
            "values": {"type": "dict", "required": True},
            "settable_only": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    tolerant = module.params["settable_only"]
    changed, not_settable = {}, {}
    for name, value in sorted(module.params["values"].items()):
        wanted = " ".join(str(value).split())
        path = "/proc/sys/" + name.replace(".", "/")
        try:
            with open(path) as current_file:
                current = " ".join(current_file.read().split())
        except OSError as error:
            if tolerant and error.errno == errno.ENOENT:
                not_settable[name] = "not present here"
                continue
            module.fail_json(msg=f"cannot read {path}: {error.strerror}", changed_values=changed)
        if tolerant and not os.access(path, os.W_OK):  # a read-only /proc/sys says so here
            not_settable[name] = f"not settable here, value {current}"
            continue
        if current == wanted:
            continue
        if not module.check_mode:
            try:
                with open(path, "w") as target:
                    target.write(wanted + "\n")
            except OSError as error:
                if tolerant and error.errno in READ_ONLY:
                    not_settable[name] = f"not settable here, value {current}"
                    continue
                module.fail_json(
                    msg=f"cannot write {wanted!r} to {path}: {error.strerror}",
                    changed_values=changed,
                )
        changed[name] = current
    for name, line in not_settable.items():
        module.warn(f"{name}: {line}")
    module.exit_json(changed=bool(changed), changed_values=changed, not_settable=not_settable)


if __name__ == "__main__":
    main()
