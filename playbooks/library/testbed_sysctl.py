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
options:
  values:
    description: Parameters (dotted names, e.g. C(net.core.somaxconn)) and their values.
    required: true
    type: dict
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
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec={"values": {"type": "dict", "required": True}},
        supports_check_mode=True,
    )
    changed = {}
    for name, value in sorted(module.params["values"].items()):
        wanted = " ".join(str(value).split())
        path = "/proc/sys/" + name.replace(".", "/")
        try:
            with open(path) as current_file:
                current = " ".join(current_file.read().split())
        except OSError as error:
            module.fail_json(msg=f"cannot read {path}: {error.strerror}", changed_values=changed)
        if current == wanted:
            continue
        if not module.check_mode:
            try:
                with open(path, "w") as target:
                    target.write(wanted + "\n")
            except OSError as error:
                module.fail_json(
                    msg=f"cannot write {wanted!r} to {path}: {error.strerror}",
                    changed_values=changed,
                )
        changed[name] = current
    module.exit_json(changed=bool(changed), changed_values=changed)


if __name__ == "__main__":
    main()
