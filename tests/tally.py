"""tests/tally.py — the tally the Python test runners share: one line per
check ("ok   name" or "FAIL name: what differed") and an exit status that fails
when a check failed or when none ran (a run that checked nothing proves
nothing)."""

PASSED, FAILED = [0], [0]


def check(name, ok, detail=""):
    """Counts one check and prints it; returns ok so callers can go on only when it held."""
    if ok:
        PASSED[0] += 1
        print(f"ok   {name}")
    else:
        FAILED[0] += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return ok


def finish(suite):
    """Prints '<suite>: N passed, N failed'; the process exit status."""
    print(f"{suite}: {PASSED[0]} passed, {FAILED[0]} failed")
    return 1 if FAILED[0] or not PASSED[0] else 0


def run(suite, body, workdir):
    """Runs body(); a crash of the test itself counts as a failed check, not a
    pass. Then removes workdir, prints the time taken, and finishes."""
    import shutil
    import time
    import traceback
    t0 = time.time()
    try:
        body()
    except Exception as e:
        traceback.print_exc()
        check(f"the test ran to the end ({type(e).__name__}: {e})", False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"({time.time() - t0:.0f} s)")
    return finish(suite)


def registry():
    """A list of cases and the decorator that adds to it, for run_cases."""
    cases = []

    def case(fn):
        cases.append(fn)
        return fn
    return cases, case


def require(cond, msg):
    """Inside a case: fails it with msg."""
    if not cond:
        raise AssertionError(msg)


def run_cases(suite, cases, argv, workdir, report=None):
    """Runs each case function (its name, underscores as spaces, is the check's),
    only those matching a -k SUBSTRING of argv when any is given; a case passes
    when it returns (a string it returns is shown), fails on any exception. Then
    removes workdir, calls report() if given, and finishes with the time taken."""
    import shutil
    import sys
    import time
    only = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-k"]
    t0 = time.time()
    try:
        for fn in cases:
            name = fn.__name__.replace("_", " ")
            if only and not any(k in name for k in only):
                continue
            t = time.time()
            try:
                detail = fn()
            except Exception as e:     # an AssertionError, or anything else the case ran into
                check("%s (%.1f s)" % (name, time.time() - t), False, "%s: %s" % (type(e).__name__, e))
                continue
            check("%s (%.1f s)%s" % (name, time.time() - t, ": " + detail if detail else ""), True)
            sys.stdout.flush()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if report:
        report()
    print("(%.0f s)" % (time.time() - t0))
    return finish(suite)
