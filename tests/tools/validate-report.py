#!/usr/bin/python3
"""Validate RFC 8460 report files against schema/tlsrpt-report.schema.json.

usage: validate-report.py SCHEMA FILE...
FILE may be .json, .json.gz, or a mail message (.eml) whose report
attachment is found by content (gzip magic or a JSON object).
Prints "valid FILE" or "invalid FILE: reason" per file; exit 0 only if
every file is valid. Formats (date-time, ipv4, ipv6) are asserted.
"""
import email
import email.policy
import gzip
import json
import sys

import jsonschema


def attachment(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    for part in msg.walk():
        if part.is_multipart():
            continue
        body = part.get_payload(decode=True) or b""
        if body[:2] == b"\x1f\x8b" or body.lstrip()[:1] == b"{":
            return body
    raise ValueError("no report attachment")


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".eml"):
        data = attachment(data)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return json.loads(data)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.FormatChecker())
    bad = 0
    for path in sys.argv[2:]:
        errors = sorted(validator.iter_errors(load(path)), key=lambda e: list(e.path))
        if errors:
            bad += 1
            where = "/".join(str(p) for p in errors[0].path)
            print(f"invalid {path}: {where}: {errors[0].message}")
        else:
            print(f"valid {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
