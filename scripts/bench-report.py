#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the dma_bench lines of QEMU boot logs into a table and a plot.

Usage: bench-report.py [--md FILE] [--png FILE] LOG...

For each IOMMU and mode, layout and size, and each path: the median and the
spread (min to max) of the ns per page over the rounds, split into the map
and the unmap half; its ratios to dma_map_page and dma_map_sg, and of its
map half to iova_batch's, each the median over the rounds of the ratio
within the round (the paths of a round run one after the other, so the
host's slower and faster spells cancel out); the median number of IOTLB
syncs per map+unmap, and the driver-side bytes each path keeps per mapped
page.
"""

import argparse
import re
import statistics
import sys
from collections import defaultdict

LINE = re.compile(r'dma_bench: iommu=(\S+) mode=(\S+) layout=(\S+) path=(\S+) '
                  r'pages=(\d+) rep=(\d+) ns=(\d+) map_ns=(\d+) syncs=(\d+) '
                  r'state=(\d+) sg_nents=(\d+)')
PATHS = ['map_page', 'map_sg', 'iova_batch', 'iova_on_demand', 'iova_holes',
         'mapped_pages', 'hmm_dma_map', 'ops_floor']


def iommu_name(raw):
    return 'virtio-iommu' if raw.startswith('virtio') else 'VT-d' if raw.startswith('dmar') else raw


def parse(paths):
    runs = defaultdict(lambda: defaultdict(list))
    extra = {}
    for path in paths:
        with open(path, errors='replace') as f:
            for line in f:
                m = LINE.search(line)
                if not m:
                    continue
                iommu, mode, layout, name, pages, rnd, ns, map_ns, syncs, state, nents = m.groups()
                key = (iommu_name(iommu), mode, layout, int(pages))
                runs[key][name].append((int(ns) / int(pages), int(syncs),
                                        int(map_ns) / int(pages), int(rnd)))
                extra[(key, name)] = (int(state), int(nents))
    return runs, extra


def paired(paths, p, peer, field):
    """The median over the rounds of path p's value `field` (0: ns per page,
    2: its map half) over peer's in the same round."""
    if peer not in paths:
        return float('nan')
    theirs = {v[3]: v[field] for v in paths[peer]}
    ratios = [v[field] / theirs[v[3]] for v in paths[p] if theirs.get(v[3])]
    return statistics.median(ratios) if ratios else float('nan')


def table(runs, extra):
    rows = ['| IOMMU | mode | layout | pages | path | ns/page median | min–max | '
            'map + unmap | × map_page | × map_sg | map half × iova_batch | '
            'IOTLB syncs | bytes kept/page |',
            '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for key in sorted(runs, key=lambda k: (k[0], k[1], k[2], k[3])):
        iommu, mode, layout, pages = key
        med = {p: statistics.median(v[0] for v in runs[key][p]) for p in runs[key]}
        for p in PATHS:
            if p not in runs[key]:
                continue
            values = [v[0] for v in runs[key][p]]
            syncs = statistics.median(v[1] for v in runs[key][p])
            mapn = statistics.median(v[2] for v in runs[key][p])
            state, _ = extra[(key, p)]
            r_page = paired(runs[key], p, 'map_page', 0)
            r_sg = paired(runs[key], p, 'map_sg', 0)
            r_map = paired(runs[key], p, 'iova_batch', 2)
            rows.append(f'| {iommu} | {mode} | {layout} | {pages} | {p} | '
                        f'{med[p]:.0f} | {min(values):.0f}–{max(values):.0f} | '
                        f'{mapn:.0f} + {med[p] - mapn:.0f} | {r_page:.2f} | {r_sg:.2f} | '
                        f'{r_map:.2f} | {syncs:g} | {state / 8:g} |')
    return '\n'.join(rows)


def plot(runs, png):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    configs = sorted({(k[0], k[1]) for k in runs})
    layouts = ('scattered', 'contiguous')
    fig, axes = plt.subplots(len(layouts), len(configs),
                             figsize=(5 * len(configs), 4 * len(layouts)),
                             squeeze=False, sharey=True)
    for row, layout in zip(axes, layouts):
        for ax, (iommu, mode) in zip(row, configs):
            for p in PATHS:
                xs, ys = [], []
                for key in sorted(k for k in runs if k[:3] == (iommu, mode, layout)):
                    if p in runs[key]:
                        xs.append(key[3])
                        ys.append(statistics.median(v[0] for v in runs[key][p]))
                if xs:
                    ax.plot(xs, ys, marker='o', label=p)
            ax.set_xscale('log')
            ax.set_yscale('log')
            ax.set_title(f'{iommu}, {mode}, {layout} pages')
            ax.set_xlabel('pages mapped and unmapped')
            ax.grid(True, which='both', alpha=0.3)
        row[0].set_ylabel('ns per page (median, guest clock)')
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--md')
    ap.add_argument('--png')
    ap.add_argument('logs', nargs='+')
    args = ap.parse_args()
    runs, extra = parse(args.logs)
    if not runs:
        print('bench: no dma_bench results in the logs', file=sys.stderr)
        return 1
    text = table(runs, extra)
    print(text)
    if args.md:
        with open(args.md, 'w') as f:
            f.write(text + '\n')
    if args.png:
        plot(runs, args.png)
        print(f'\nplot: {args.png}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
