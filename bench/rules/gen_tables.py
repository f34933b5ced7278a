#!/usr/bin/env python3
"""Writes province-sized reference tables (invented) for the load benchmark:
3.1M insured rows, 20,000 drug rows, 10,000 service rows, plus the SSO sample
tables for the rest. Usage: gen_tables.py SRC OUT_DIR. Output is not committed."""
import os, shutil, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for f in os.listdir(os.path.join(src, 'rules/sso/tables')):
    if f.endswith('.tsv'):
        shutil.copy(os.path.join(src, 'rules/sso/tables', f), out)
with open(os.path.join(out, 'insured.tsv'), 'w') as f:
    f.write('nid\tbirth_date\tsex\tcovered_from\tcovered_to\n')
    for i in range(3_100_000):
        f.write('%010d\t13%02d/%02d/%02d\t%s\t1390/01/01\t\n' % (1_000_000_000 + i * 7, 10 + i % 90, 1 + i % 12, 1 + i % 29, 'MF'[i % 2]))
with open(os.path.join(out, 'drugs.tsv'), 'w') as f:
    f.write('irc\tpack_units\tprice_old\tprice_new\tdaroyar\tmax_qty\tfrom\tto\n')
    for i in range(10_000):
        f.write('IRC%07d\t10\t%d\t%d\t%d\t60\t1400/01/01\t1403/12/30\n' % (i, 1000 + i, 3000 + i, i % 2))
        f.write('IRC%07d\t10\t%d\t%d\t%d\t\t1404/01/01\t\n' % (i, 1100 + i, 3300 + i, i % 2))
with open(os.path.join(out, 'services.tsv'), 'w') as f:
    f.write('code\trvu_prof\trvu_tech\tflag\tmax_qty\tsex\tage_min\tage_max\tfrom\tto\n')
    for i in range(10_000):
        f.write('SRV%06d\t%d\t%d\t%s\t\t-\t0\t150\t1400/01/01\t\n' % (i, 100 + i % 500, i % 300, '#S'[i % 2]))
