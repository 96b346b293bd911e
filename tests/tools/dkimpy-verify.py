#!/usr/bin/python3
"""dkimpy-verify - verify a DKIM signature with dkimpy (test tool)

Usage: dkimpy-verify.py -n 127.0.0.1:PORT [--tlsrpt strict|yes|no] FILE

Verifies the message the way a receiver using dkimpy (python3-dkim)
would, with key queries sent through dnspython to the one name server
given with -n (the test's dnsmasq). --tlsrpt is dkimpy's RFC 8460 mode:
"strict" (the default here) also requires the key record to say
s=tlsrpt, "yes" accepts any usable key but still refuses l=, "no" is
plain DKIM. Prints "result: pass|fail" and "reason: ..." lines.

Exit 0 when the signature verifies, 1 when it does not, 2 on bad usage.
"""
import argparse
import logging
import sys

import dkim
import dns.exception
import dns.resolver


class Last(logging.Handler):
    """Keeps the last message dkimpy logged: its only failure reason."""

    def __init__(self):
        super().__init__()
        self.msg = None

    def emit(self, record):
        self.msg = record.getMessage()


def main():
    ap = argparse.ArgumentParser(description="verify DKIM with dkimpy")
    ap.add_argument("-n", required=True, metavar="ADDR:PORT")
    ap.add_argument("--tlsrpt", choices=("strict", "yes", "no"), default="strict")
    ap.add_argument("file")
    args = ap.parse_args()
    host, _, port = args.n.rpartition(":")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)

    def dnsfunc(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode("ascii"), "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.exception.Timeout):
            return None
        # A record over 255 bytes arrives as several strings: join them.
        return b"".join(answer[0].strings)

    with open(args.file, "rb") as f:
        message = f.read()
    log = logging.getLogger("dkimpy-verify")
    log.setLevel(logging.DEBUG)
    last = Last()
    last.setLevel(logging.ERROR)
    log.addHandler(last)
    mode = {"strict": "strict", "yes": True, "no": False}[args.tlsrpt]
    try:
        ok = dkim.DKIM(message, logger=log, tlsrpt=mode).verify(dnsfunc=dnsfunc)
    except dkim.DKIMException as e:
        ok, last.msg = False, str(e)
    print("result: %s" % ("pass" if ok else "fail"))
    # dkimpy logs "None" for some refusals, such as a key it dropped.
    reason = last.msg if last.msg not in (None, "None") else "signature did not verify"
    print("reason: %s" % ("ok" if ok else reason))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
