#!/usr/bin/env python3
"""client_cpu.py SCRIPT [ARGS...] - run a Python bench client (../shared/bench/*.py) in this
process and report its own CPU, without the interpreter's start-up (and without the helper
processes it runs, e.g. cputree.py). Prints, after the client's own output:
  CLIENT_CPU first_output=S from_connect=S total=S wall_first_output=S wall=S
first_output: CPU seconds used until the client printed its first line (for imap_fetchall.py and
pop3_bench.py with one run: that run; for imap_idle_mem.py: the session set-up plus the hold,
during which it sleeps); from_connect: the same from its first connect() on, so without its
imports; total: until it returned. Used by imap_vs_dovecot.sh to show whether
the client, not the server, set the pace."""
import os, runpy, socket, sys, time

cpu0, wall0 = time.process_time(), time.monotonic()
first = []
connect_cpu = []

_connect = socket.socket.connect


def connect(self, *a):
    if not connect_cpu:
        connect_cpu.append(time.process_time() - cpu0)
    return _connect(self, *a)


socket.socket.connect = connect  # socket.create_connection and asyncio both end up here


class Tap:
    def __init__(self, f):
        self.f = f

    def write(self, s):
        if not first and s.strip():
            first.append((time.process_time() - cpu0, time.monotonic() - wall0))
        return self.f.write(s)

    def flush(self):
        return self.f.flush()

    def __getattr__(self, name):
        return getattr(self.f, name)


def report():
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    fc, fw = first[0] if first else (cpu, wall)
    cc = connect_cpu[0] if connect_cpu else 0.0
    sys.__stdout__.write(f"CLIENT_CPU first_output={fc:.3f} from_connect={fc - cc:.3f} total={cpu:.3f} "
                         f"wall_first_output={fw:.3f} wall={wall:.3f}\n")
    sys.__stdout__.flush()


script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
sys.stdout = Tap(sys.stdout)
try:
    runpy.run_path(script, run_name="__main__")
finally:
    report()
