#!/usr/bin/env python3
"""Renders templates with Python's jinja2 the way Hugging Face renders chat
templates (trim_blocks, lstrip_blocks, loop controls, its tojson and
raise_exception), for the differential test of src/jinja.

stdin: [{"template": str, "context": object}, ...]
stdout: [{"ok": true, "out": str} | {"ok": false, "error": str}, ...]
"""
import json
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    results = []
    for case in json.load(sys.stdin):
        try:
            out = env.from_string(case["template"]).render(**case["context"])
            results.append({"ok": True, "out": out})
        except Exception as e:  # any refusal: the case is skipped
            results.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
