#!/usr/bin/env python3
"""Run the estafeta integration suite against one daemon binary.

    python3 tests/integration/run.py --bin build/estafeta --label build [-k SUBSTR] [-v] [--keep]

Prints one line per test ("ok - name" or "FAIL - name: reason") and, as the
last line, "integration LABEL: N passed, N failed". Exits 1 when a test failed.
"""
import argparse
import importlib
import os
import signal
import sys
import time
import traceback

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

MODULES = ["test_smtp", "test_delivery", "test_security", "test_tls", "test_auth", "test_postfix_sasl", "test_cli", "test_users", "test_crash", "test_imap", "test_imap_ext", "test_pop3", "test_clients"]
TEST_TIMEOUT = 90


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout("test took longer than %ds" % TEST_TIMEOUT)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--label", default=None)
    ap.add_argument("-k", dest="filter", action="append", default=[],
                    help="run only tests whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print daemon logs of failures")
    ap.add_argument("--keep", action="store_true", help="keep the temporary labs")
    args = ap.parse_args()

    label = args.label or os.path.basename(os.path.dirname(os.path.abspath(args.bin))) or "build"
    binpath = os.path.abspath(args.bin)
    if not os.access(binpath, os.X_OK):
        print("FAIL - setup: %s is not an executable" % binpath)
        print("integration %s: 0 passed, 1 failed" % label)
        return 1
    harness.BIN = binpath
    harness.LABEL = label
    harness.KEEP = args.keep
    harness.VERBOSE = args.verbose
    os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1")

    for m in MODULES:
        importlib.import_module(m)

    passed = failed = 0
    t0 = time.monotonic()
    signal.signal(signal.SIGALRM, on_alarm)
    for name, fn in harness.TESTS:
        if args.filter and not any(f in name for f in args.filter):
            continue
        start = time.monotonic()
        signal.alarm(TEST_TIMEOUT)
        try:
            fn()
            status, reason = "ok", None
        except harness.Skip as e:
            status, reason = "skip", str(e)
        except harness.Failure as e:
            status, reason = "FAIL", str(e)
        except Timeout as e:
            status, reason = "FAIL", str(e)
        except Exception as e:  # a bug in the test or an unexpected daemon reaction
            tb = traceback.extract_tb(e.__traceback__)
            where = "%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno) if tb else "?"
            status, reason = "FAIL", "%s: %s (at %s)" % (type(e).__name__, e, where)
        finally:
            signal.alarm(0)
        took = time.monotonic() - start
        reason = (reason or "").replace("\n", " ")
        if status == "ok":
            passed += 1
            print("ok - %s" % name + (" (%.1fs)" % took if args.verbose else ""))
        elif status == "skip":
            print("skip - %s: %s" % (name, reason))
        else:
            failed += 1
            print("FAIL - %s: %s" % (name, reason))
        sys.stdout.flush()
    if args.verbose:
        print("# total %.1fs" % (time.monotonic() - t0))
    print("integration %s: %d passed, %d failed" % (label, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
