#!/bin/sh
# Run every test: cmocka unit tests (release and ASan+UBSan builds) and the
# integration suite against both daemons. Last line: "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
log=$(mktemp)
for build in build build-san; do
	[ -d "$build/tests" ] || continue
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		name="$build/$(basename "$t")"
		if "$t" >"$log" 2>&1; then status=ok; else status=FAIL; fi
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		p=${p:-0}
		f=${f:-0}
		if [ "$status" = FAIL ] && [ "$f" = 0 ]; then f=1; fi
		if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
			f=$((f + 1))
			status=FAIL
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		echo "unit $name: $p passed, $f failed"
		[ "$status" = ok ] || sed 's/^/    /' "$log" | tail -40
	done
done
for build in build build-san; do
	[ -x "$build/estafeta" ] || continue
	python3 tests/integration/run.py --bin "$build/estafeta" --label "$build" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^integration.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^integration.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	passed=$((passed + p))
	failed=$((failed + f))
done
# Every fuzz target over its seed corpus plus fresh inputs (a regression pass, not a campaign).
for t in build-fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	work=$(mktemp -d)
	if "$t" -runs="${FUZZ_RUNS:-20000}" -max_len=4096 "$work" "tests/fuzz/corpus/${n#fuzz_}" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "fuzz $n: ok"
	else
		failed=$((failed + 1))
		echo "fuzz $n: FAILED"
		tail -30 "$log"
	fi
	rm -rf "$work"
done
# The settings reference in docs/CONFIG.md matches the code.
if python3 tools/gendoc.py --check build/estafeta docs/CONFIG.md; then
	passed=$((passed + 1))
	echo "docs: docs/CONFIG.md lists every setting: ok"
else
	failed=$((failed + 1))
fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
