#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Count the test cases of kunit.py JSON results, one file per QEMU boot.

Usage: kunit-summary.py NAME=RESULT.json...

Prints one line per boot and, last, the total:

    kunit: N passed, N failed, N skipped

and exits non-zero when any case failed or crashed, or a boot left no result,
ran no test at all or skipped every test.
"""

import json
import sys


def count(group, totals):
    for case in group.get('test_cases', []):
        status = case.get('status')
        if status == 'PASS':
            totals['passed'] += 1
        elif status == 'SKIP':
            totals['skipped'] += 1
        else:
            totals['failed'] += 1
            totals['failures'].append(case.get('name', '?'))
    for sub in group.get('sub_groups', []):
        count(sub, totals)


def main(args):
    total = {'passed': 0, 'failed': 0, 'skipped': 0}
    ok = bool(args)
    print()
    for arg in args:
        name, _, path = arg.partition('=')
        boot = {'passed': 0, 'failed': 0, 'skipped': 0, 'failures': []}
        try:
            with open(path) as f:
                count(json.load(f), boot)
        except (OSError, ValueError) as e:
            print(f'{name}: no KUnit results ({e})')
            boot['failed'] += 1
        if boot['passed'] + boot['failed'] + boot['skipped'] == 0:
            print(f'{name}: no test ran')
            boot['failed'] += 1
        elif boot['passed'] == 0:
            # A boot whose device is missing skips everything.
            print(f'{name}: every test skipped')
            boot['failed'] += 1
        print(f"{name}: {boot['passed']} passed, {boot['failed']} failed, "
              f"{boot['skipped']} skipped")
        for failure in boot['failures']:
            print(f'  failed: {failure}')
        for k in total:
            total[k] += boot[k]
    if total['failed']:
        ok = False
    print(f"kunit: {total['passed']} passed, {total['failed']} failed, "
          f"{total['skipped']} skipped")
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
