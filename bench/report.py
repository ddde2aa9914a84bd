"""docs/performance.md from the benchmark results bench/results/*.json (`make bench-docs`).

    python -m bench.report --results bench/results --out docs/performance.md

A page written from files alone, so it can be regenerated without building anything; with no
result files it says the figures are pending. Lives in bench/, never imported by segrec.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = """# Performance

Build time, memory and quality of the whole project (`dbt build`, every model and test) on
synthetic shops from `segrec generate`, about 52.5 events per customer over 120 days. Each size
is one run of `make bench` (`bench/bench_build.py`) on one machine; the ratios compare two
measurements taken in that same run, so they carry over to other machines, the absolute times
do not.

Reproduce: `make bench` (sizes 1M and 10M), or e.g. `make bench BENCH_SIZES="100k 1M"`; the
scratch warehouses go to `BENCH_WORK` (default /tmp/segrec-bench); `BENCH_INCREMENTAL=1` or `0`
forces the incremental comparison on or off (default: on up to 1M events, it doubles the run).
Results land in `bench/results/<size>.json`; `make bench-docs` rewrites this page from them.

How to read it: the total is the wall time of `dbt build --full-refresh` into an empty
warehouse (parsing included); peak RSS is the largest resident set of any process of that build.
Layer times sum the nodes' execution times, and two threads overlap, so they can add up to more
than the total. The build's resident set (dbt and anything it starts) is sampled every 0.5 s, and
the memory table lists the nodes under which it grew most (the largest sample while the node ran
minus the last one before it started, and that largest sample): with two threads, the figures
are the whole process's at that moment, the node is a suspect, not a measurement.

The ratios and their targets (issue 13): *sessionization* is the hand-written DuckDB SQL that
produces what the project's two sessionization models produce (every clean event of
int_events__enriched with its session start and key, by one window query with a 30-minute gap per
customer, and one row per session with counts, times, revenue and landing device and channel),
written as tables to a database file, divided by the time of those two models rebuilt alone on the
built warehouse (`dbt run --full-refresh` of just them; both sides the median of three runs, as in
the build they share the two cores with a model on dbt's other thread while the hand query runs
alone; runs before 2026-12-04 divided by their time in the build, which the detail column now
shows as "in build") (target >= 1: the project at least as fast); *incremental* is an incremental `dbt build` after the
newest 1% of events arrive as a second load on a warehouse built from the other 99%, divided by the
full build (target <= 0.1), with fct_events, fct_sessions and dim_customers compared between the
two warehouses; *ALS* is int_recommendation__als_factors in the build divided by `implicit`
fitted directly on the same matrix with the same parameters (target <= 1.1). Both sides of a ratio
run on the same machine in the same run, but the dbt side runs beside other models on two threads,
the direct side alone. Quality: adjusted Rand index of the latest segments against the
generator's personas, and NDCG@10 of the served lists (ranker_blended) against popularity on the
temporal hold-out (recommendation_metrics).

What the 10M run shows (commit 15ce98c, alone on the machine; `10M` below): the whole build
finishes and every test passes, with segments and lists as good as at 1M (ARI 0.97, served lists
5.1x popularity), but it takes 46 minutes and 13.8 GB, far from the targets (5 minutes, 4 GB).
Two models are 77% of it: int_recommendation__ranker_lists (1,078 s) and
int_recommendation__hybrid_candidates (1,046 s). Both score every customer against the whole
catalog, and at 190,476 customers x 19,047 products that is 3.6 billion cells per pass:
sampled during the build, the hybrid spent its time picking each row's top 50 under the category
cap, the ranker's candidate generator in a stable argsort of every customer's ALS row (26%, for an
`als_rank` read at ~300 cells of 19,047), the dense items x items co-occurrence (1.45 GB, 11%) and
re-converting a sorted key column per batch (8%). Fixed after that run, with the same lists
(checked equal on the 1M build): the category cap takes each category's best items in one pass
(the hybrid model 61 s -> 32 s at 1M, measured alone), `als_rank` is looked up for the candidate
pairs only, the co-occurrence cosine is sparse, training windows' generators are freed, and batches
binary-search the key column. A second round, profiled on the 1M and 10M warehouses, again with the
same output (the 1M build's hybrid candidates byte-equal, its ranker lists equal, 841,405 rows):
a row with at most 50 items allowed under the cap takes them all without a top-k over the catalog
(with 12 categories and a cap of 3 a hybrid list of 50 never fills under the cap, so every row paid
for a selection and its tie path), the context lift is scored once per distinct context instead of
per customer, the cap's tie handling runs only for rows tied at the cut, customer and product
columns are read once per fit instead of per batch, the blend is summed in place, and `top_k_rows`
selects the k smallest of the negated row when a row is dominated by one value (argpartition at
the top end of a co-occurrence row, mostly zeros, was 6x slower: `cooccurrence_similarity` at 10M
24 s -> 14.5 s per call, about a dozen calls per build), and the offline evaluation works out each
group dimension's labels once instead of per strategy and k (holdout_metrics at 1M 36.1 s -> 30.1 s,
the same rows). Measured alone: the hybrid model at 1M
42.1 s -> 31.1 s, the ranker model at 1M 107.5 s -> 83.8 s; the hybrid model at 10M took 956 s
(under cProfile, before the `top_k_rows` change), against 1,046 s in the 10M build before both
rounds: 593 s of it making the lists (282 s blending, 186 s selecting, 93 s reasons) and 323 s
fitting (250 s co-occurrence, 58 s ALS). Tried and not kept: ranking the sparse co-occurrence's
non-zeros (20.5 s against 23.1 s per call at 10M, slower at 1M) and dividing only at co-occurring
pairs (no gain: the selection dominated). The whole 1M build after both rounds (commit
d2053e1, with another job niced beside it): 235 s against 380 s, peak 3.6 GB, the same quality
(ARI 0.968, served NDCG@10 0.2353); its ALS ratio, 1.22, compares two fits of about 2 s each (0.92
in the previous 1M run, 0.82 at 10M). What is left is structural: the hybrid and the ranker
still touch customers x catalog cells, so their cost grows with both; the next step is to score
only each customer's candidates (top-M per source from sparse or factorized scores, with an
exactness bound and a dense fallback per row), and to recompute lists only for customers with new
events.
int_events__validated (132 s at 10M in the build, 98 s alone, 10 s at 1M) is the largest SQL cost;
ranking staging's event_id_occurrence on the few columns it needs and joining back by raw row
gave the same rows but no gain (103 s alone), so the window stayed as it was then (see 2026-12-05
below for what worked: ranking only the duplicated ids, on a read of their own). DuckDB refuses to
switch temp_directory after a spill when it is re-set per cursor, so profiles.yml sets it once, in
config_options.
Sessionization (0.66 in the `1M` run below, 0.75 at 10M): the two models and the hand query do the
same heavy work, windows over every column of int_events__enriched and a write of all of them
(the write alone is about 40% of int_events__sessionized's CPU), so alone on the machine the gap is
small; in the build the models share the two cores with a model on dbt's other thread, the hand
query runs alone. The hand query is also narrower: 9 columns per session against the model's 26
(the 8 event-type counts, distinct orders, the landing context, the checksum), which is not what
costs (int_sessions__aggregated is under 15% of the two models' CPU). `sessionize` now finds the
session starts with a window over three columns (customer_key, event_time, event_id), joins them
back to the full rows and makes one window pass over those (the running max of the starts)
instead of two, and a full refresh reads int_events__enriched itself, not a CTE DuckDB would copy.
Same rows (both models, full refresh and an incremental run on the 1% load, checked with `except
all` both ways at 1M). The compiled SQL of both models against the hand query at 1M, alternated,
medians of 7 (a loaded machine): 7.40 s -> 6.59 s, hand / project 0.97 -> 1.09 (CPU 4.22 s -> 4.04
s, the hand query 4.29 s); dbt adds about 0.3 s per model (a temporary table, renames, commit).
Tried and not kept: both windows on the narrow rows joined back
(the rows then reach the write unsorted, and the write and the aggregate over them cost more than
the sort saved), an ASOF join of the events to the session starts (slower), and the key hashed per
session rather than per event (no clear gain, dialect-specific syntax).
A third round (2026-12-04), again with the same output (the 1M hybrid candidates and ranker lists
byte-equal to the previous commit's): the hybrid scores, blends and selects each batch a block of
about 262,144 cells at a time (`_arrays.row_blocks`), so a block's arrays stay in the CPU cache from
the blend to the top-n (6 arrays blended and a top 50 taken at 19,047 products: 3x faster than in
2,000,000-cell passes, in a micro-benchmark; the 1M hybrid model's CPU time 25.4/23.3 s -> 21.2/22.2
s, with 1,904 products per row there); the ranker's candidate generator masks and selects its ALS
and co-occurrence tops per block too; ALS converts its item factors to float64 once instead of per
call; `signed_log1p` makes one temporary instead of three. The sessionization ratio now times the two
models rebuilt alone, as the hand query runs alone (above). The `10M` run below (commit c907c3a,
before the ranker's blocks and the new `sessionize`) is NOT a quiet measurement: two other jobs ran
beside it for its first 15 minutes (the SQL layer is inflated: int_events__validated 213 s against
132 s alone before; its sessionization ratio, 0.11, and ALS ratio, 1.65, say nothing) and a 1M
Spark build for its last 20 minutes (while the hybrid ran); its total and peak are upper bounds. Even
so: 2,125 s and 11.4 GB against 2,764 s and 13.8 GB at 15ce98c, the ranker 467 s against 1,078 s,
the hybrid 715 s against 1,046 s, the offline evaluation 77 s against 158 s, with the same quality
(ARI 0.970, served lists 5.08x popularity). The `1M` run below (commit 8b1c415, everything above, alone
on the machine): 164 s against 235 s at d2053e1, peak 3.7 GB, the same quality (ARI 0.968, served
NDCG@10 0.2353, the same figure); the ranker 62.8 s, the hybrid 22.3 s, the offline evaluation 17.1 s;
sessionization with both sides alone 0.92 (hand 1.95 s, the models 2.13 s, 2.91 s in the build),
ALS 1.05, incremental 0.98 (the Python models still rebuild in full). The 10M memory table shows
where the 4 GB target is lost:
the hybrid grows the process by 7.1 GB (to 9.7 GB) and the ranker by 5.3 GB (to 11.3 GB), the SQL
models by 2 to 3 GB each (DuckDB's 4 GB memory_limit).
A fourth round (2026-12-04, commit 740cd80), profiled for memory on a 10M warehouse, each model run
alone (its resident set sampled every 0.25 s with the Python stack): the hybrid grew to 3.7 GB
holding its 11.4M rows (pandas per batch, concatenated, then Arrow); the ranker held the hybrid
candidates as pandas, sorted and split per cutoff (about 1.6 GB of growth at 1M), scored
2,000-customer batches against 19,047 products (about 1 GB of score grids) and copied 600,000-pair
feature matrices in the logistic member.
Now both models make their rows a batch of customers at a time and write each batch out as it comes
(`segrec.engine.to_output_batches`: a Parquet file in DuckDB's temp_directory, read by DuckDB as a
stream and removed; a stream of the batches themselves cannot work, as code run while DuckDB reads
a stream cannot query the model's connection); the hybrid writes its rows in (cutoff, customer_key)
order and the ranker reads them as one Arrow table and slices each batch's rows (sorting in DuckDB
instead kept 1.5x the table in the process; an Arrow take on the chunked table concatenated it per
call); the ranker's batches hold at most 8M customer x catalog cells (420 customers at 19,047
products, 2,000 at 1M as before); the ensemble scores 65,536 pairs at a time, its logistic member by
a row-wise sum (a BLAS product's sums depend on the matrix shape, so the scores moved by 1e-16 with
the chunks). Measured alone: at 10M the hybrid 3,673 -> 1,811 MiB, the ranker 3,334 MiB (6,246 MiB
midway, still with pandas lists, a DuckDB sort and 2,000-customer batches; the old code was not run
alone at 10M, in the build it grew the process by 5.3 GB); at 1M the hybrid 1,125 -> 756 MiB and the
ranker 2,756 -> 2,260 MiB. Same output: the hybrid
candidates equal row for row (1M and 10M), the ranker's lists equal in every column but `score`
(at most 8.3e-14 apart at 1M, from the row-wise sum). The `10M` run below is that commit's
`make bench` (its first 8 minutes beside the last of the profiling runs, then alone): 1,609 s and
5,956 MiB against 2,125 s and 11,353 MiB at c907c3a (a loaded run) and 2,764 s and 13.8 GB at
15ce98c (alone), the same quality (ARI 0.970, served lists 5.14x popularity); the hybrid 565 s, the
ranker 474 s (its batches are 420 customers now, against 2,000), the offline evaluation 87 s;
sessionization with both sides alone 1.005 (hand 21.7 s, the models 21.6 s; target met), ALS 1.19
(one 15.1 s fit in the build against the median of three direct fits, 12.8 s). Its memory table
has no Python model far above the rest any more: the largest resident sets are 5.5 to 6.0 GB under
the ranker and the segmentation's candidates, 4.2 to 4.3 GB under the SQL models, whose DuckDB runs
at its 4 GB memory_limit; what stays resident between models (DuckDB's allocator keeps its pages,
glibc its freed heap) is now the larger part of the peak. The `1M` run below (commit 854e8fc, alone):
168 s, peak 2,701 MiB against 3,738 MiB at 8b1c415 (the ranker's growth 2,105 -> 1,166 MiB), the same
quality (ARI 0.968, served NDCG@10 0.2353); sessionization 0.95 (hand 2.03 s, the models 2.15 s), ALS
1.28 (fits of about 2 s), incremental 0.92 with equal marts.
A fifth round (2026-12-04, commit a2884d7), profiled for time on the 10M warehouse (each model alone,
its Python stack sampled every 0.25 s), again with the same output (hybrid candidates equal row for
row at 1M and 10M, ranker lists equal at 1M, every column and score): the hybrid spent 157 of its 571
s finding co-occurrence neighbours (about 10 calls: the interactions and the purchases of each
cutoff), 96 s picking each row's capped top 50 and 44 s on reasons. The neighbours now come from the
co-occurring pairs only (`_arrays.top_k_entries`: a partition per long row keeps the entries at
least its k-th value, and only those are sorted; ranking every non-zero, tried in the second round,
was slower): 10.3 s and 16.7 s -> 4.5 s and 0.3 s for one 10M cutoff's interactions and purchases,
with identical sparse arrays. The capped top n is decided from each row's best 4 x n items where
they decide it: when they hold n items the cap allows, or when every allowed item of the row is
among them (known from the row's eligible items per category, one small matrix product), which is
the case of a hybrid list of 50 with 8 categories and a cap of 3; other rows take the whole-catalog
path (5.6 -> 2.1 ms per block of 13 customers x 19,047 products, unchanged without categories).
Smaller: segment scores scaled once per segment, eligibility cleared at the bought cells instead of
a dense copy of the purchases, key indexes built once per matrix (the ranker rebuilt 188,571 keys per
batch, 19 s), the hold-out truth sliced to a batch's customers before labelling. The `10M` run below
is that commit's `make bench` (its first 4 minutes beside a 1M profiling run, which is why
int_events__validated took 161 s against 134 s): 1,365 s against 1,609 s, the hybrid 432 s against
565 s, the ranker 439 s against 474 s, the same quality (ARI 0.9695, served lists 5.14x
popularity); sessionization 1.02 (hand 21.4 s, models 20.9 s), ALS 1.20. Its peak, 6,675 MiB against
5,956 MiB, is under the ranker again; each model alone did not grow (the hybrid 1,956 -> 2,043 MiB,
the ranker 3,304 -> 3,388 MiB, measured on the same warehouse), so the difference is in what stays
resident between models, not chased further. Also seen while profiling: the ranker's gradient-boosted
trees (OpenMP, two threads) slow down several-fold when another process holds a core: a 1M ranker
model under cProfile beside the 10M data generator took 240 s, 136 s of it in the trees' fit (55 s
alone, without the profiler); 60 trees on 300,000 x 40 random features take 2.1 s alone with two
threads, 6.2 s with two threads beside one busy process, 3.9 s with one thread (OMP_WAIT_POLICY=PASSIVE:
4.0 s beside it, but 3.8 s alone). A `dbt build` runs two models at once on two cores, so which is
better depends on what runs beside the ranker; left as it is (in the builds above the ranker took
about what it takes alone). The `1M` run below (commit 30bbd71, with the ranker's last batch changes,
alone): 162 s against 168 s at 854e8fc (at 1,904 products these changes matter least), peak 2,763
MiB, the same quality (ARI 0.968, served NDCG@10 0.2353); sessionization 0.93, ALS 1.21, incremental
1.01 with equal marts (the Python models still rebuild in full).

A fact of these machines that every figure here carries (2026-12-05): memory the guest has not
touched for a second or more is slow to touch again. Filling a fresh 1 GiB numpy array takes 0.19 s
right after another was freed, 2.2 s after a 1 s pause, 3.9 s after 4 s, 7.5 s after 8 s; 2 GiB took
14.7 s after 30 s idle (the hypervisor takes freed pages back; glibc returns large blocks to the
kernel at once). So a Python model's time depends on how long ago the process held as much memory:
the ALS model alone on the 10M warehouse takes 19.3 s (12.3 s of it implicit's fit) in a fresh
process, where reading its tables and building the matrix take 7.5 s the first time and 1.2 s the
second in one process. Keeping freed memory in the process (`GLIBC_TUNABLES=glibc.malloc.arena_max=1:
glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736`) makes refilling a freed GiB 0.13 s
whatever the pause, but a whole 1M build took 167 s against 176 s with a peak of 2,949 MiB against
2,790 (the ranker 59 s against 71 s, other models a little slower with one malloc arena for dbt's two
threads): not adopted. On a laptop or a CI runner without this memory reclaim the first touch costs
about the 0.19 s.

The `1M` run below (commit 80a9a91, alone, 2026-12-05) has the ranker's training negatives chosen
per customer by a hash of the pair (`negative_sample`: about max_negatives_per_positive per bought
pair of each customer, none of a customer who bought nothing in the window), so the lists no longer
depend on the batch size: 170 s against 162 s at 30bbd71 (the ranker 62.6 s against 61.2 s), peak
2,697 MiB against 2,763, ARI 0.968, served lists NDCG@10 0.2395 against 0.2353 (3.62x popularity);
sessionization 0.91, ALS 1.20, incremental 1.01 with equal marts.

int_events__validated again (2026-12-05), its compiled SQL profiled on the 10M warehouse with
DuckDB's JSON profile: 68 s alone, 47.5 s of it staging's `row_number() over (partition by
event_id ...)` over the whole parsed row (sorting, and at the 4 GB memory_limit spilling, every
column: 9 GB of temp), the write 16 s. `stg_raw__events` now ranks only the rows of duplicated
event_ids (a group-by over the ids finds them, 167,628 duplicates at 10M) on the four columns the
rank needs, read from the raw table on their own (`source_keys`), and joins the rank back by raw row
(`_source_file`, `_source_row`); every other row is its id's first. Alone at 10M: 66-79 s -> 42 s,
the same rows (count, duplicates, a hash of ids and reasons in row order). Tried first: the same
from the `parsed` CTE (85 s) or the `source` CTE (82 s): a second reference makes DuckDB keep the
wide rows (CTE scans of 12 to 28 s each). The `1M` run below (commit 069b969, alone): 156 s,
peak 2,782 MiB, int_events__validated 5.2 s (6.4 s in the run before), the same quality (ARI 0.968,
served NDCG@10 0.2395), sessionization 0.95, ALS 1.21, incremental 1.00 with equal marts. The
`10M` run below (the same commit, alone): 1,233 s against 1,365 s at a2884d7, peak 5,844 MiB against
6,675; int_events__validated 45 s against 161 s (134 s in the run before that), the ranker 420 s
(439; its negatives per customer, above), the hybrid 430 s (432); ARI 0.9695, served lists NDCG@10
0.1719 against 0.1685 (5.24x popularity); sessionization 1.03, ALS 1.20.

The two largest models profiled again on the 10M warehouse (2026-12-05, cProfile, each alone). The
hybrid, 452 s: 289 s making lists (144 s blending, 128 s choosing the top 50 under the category cap,
52 s reasons) and 59 s fitting (39 s ALS). With 8 categories and a cap of 3 a list of 50 never fills
under the cap, and each row's best 200 items decided only 13% of the rows; the others took the
whole-catalog path. The ranker, 441 s: 263 s making candidate pairs (37 s of it `Series.isin` on
Arrow-backed text, which turns its argument, the 19,047 active products, into Python objects on
every batch), 103 s scoring (55 s the trees), 51 s ordering the lists. Changed, with the same output
where not said: rows the prefix does not decide choose among a few candidates per row (the cap best
of each category, the n best of unknown category, the 2n best of all: one pass over the columns
instead of ranking the allowed items of the whole catalog; a catalog whose categories cannot fill a
list skips the prefix), 0.5 -> 0.3 ms per row on a block of 2,000 customers' 10M scores, the lists
equal to the row-by-row definition; text membership by `pyarrow.compute.is_in` (`_arrays.text_in`);
reasons made only for the rows that carry each text (3x); the ranker's lists and shortlist ordered
by integer codes (`ranker.best_first`) instead of a sort of the text columns; the five row tests of
the staging view moved to int_events__validated, a table that holds each staged row once (on the
view each test parsed every raw file again: 54 s of the 112 s of tests at 10M). One change of
output: the co-occurrence candidate source proposes only products with a positive summed cosine; a
customer whose products share buyers with fewer than 50 others used to get zero-score products, the
lowest product ids, as co-occurrence candidates (2,761 of 410,884 pairs on ten batches of the 10M
latest cutoff). The summed cosine was first kept sparse for it (10% dense at 10M, 1.43 -> 1.29 s on
those batches), but on wholesale data it is 99% dense (Online Retail: the cosine keeps 3,373
products per product) and the sparse path doubled the source's time there (the ranker model 128 ->
151 s in the Online Retail build): it is dense again, keeping the positive picks (`_top_positive`),
the same candidates. The real datasets' figures did not move (docs/results.md: the same NDCG@10 and
intervals everywhere; the Online Retail II and Diginetica lists identical row by row). The first two
changes alone (commit 361986d, `make bench` alone): 1,127 s against 1,233 s, peak 5,672 MiB, the
hybrid 380 s (430), the ranker 372 s (420), the same quality. The `1M` run below (commit eb13988,
all of them, alone): 161 s (156 s at 069b969; the ranker's time at 1M varies from 52 to 63 s between
runs), peak 2,698 MiB against 2,782, ARI 0.968, served NDCG@10 0.2393 against 0.2395 (3.62x
popularity); sessionization 0.91, ALS 1.18, incremental 1.01 with equal marts. The `10M` run below
(commit eb13988, all of them, alone): 1,127 s against 1,233 s at 069b969, the same as with the first
two changes alone: the hybrid 378 s (430), the ranker 386 s (420; 372 s in the run before, so the
later ranker changes are within the run-to-run spread), the tests 73 s (116); peak 6,174 MiB (5,844;
5,672 in the run before: under the ranker, which grew 2,055 MiB during it, its memory did not
change; the spread of what stays resident between models again); ARI 0.9695, served lists NDCG@10
0.1722 against 0.1719 (5.25x popularity); sessionization 1.03 (models 20.4 s, hand query 20.9 s),
ALS 1.24 (15.1 s in the build against 12.1 s direct). After this run, with the same output: the
co-occurrence source dense again (above; about 6 s more at 10M by the ten-batch measurement), and
the lists' ordering (`ranked_lists`) back to `sort_values` (as fast on a whole frame of pairs,
measured on ten 10M batches); the shortlist keeps the integer codes.

Both threads at work (2026-12-05, commits fd8e236 and c537cb4). The 10M run at eb13988 ran the
hybrid (378 s), the ranker (386 s) and the offline evaluation (57 s) one after the other, each
waiting for the one before, on one thread, from minute 5 to the end: 13 of its 19 minutes with
dbt's other thread idle. They are now models of their own by what they wait for: the hybrid's
served cutoff (int_recommendation__hybrid_latest, every customer) beside its hold-out cutoffs
(__hybrid_holdout, the evaluation sample) and the learning of both rankers (__ranker_fits, the
fitted rankers pickled, one row per served cutoff); then the served lists (__ranker_latest) beside
the test lists (__ranker_holdout) and the evaluation; __ranker_lists is the view of both lists. The
lists, candidates and metrics are the same (1M: 2,942,900 hybrid rows, 841,405 ranker rows, the
served lists and recommendation_metrics equal row for row to the one-model build's). The hold-out
hybrid waits for the serving ALS: both train ALS on every core, and side by side the serving fit,
on the critical path, took 26 s instead of 14 (the ALS ratio 2.26 in that run). The hybrid also
computes the taste of the new-arrival rule only at the new products' columns (1,483 of 19,047 at
10M; the same scores, the blend 14% faster on 4,200 10M customers). The `10M` run below (commit
c537cb4, alone): 993 s against 1,127 s, peak 5,379 MiB against 6,174; the critical path is now the
serving ALS, the served hybrid (371 s, beside the hold-out hybrid, the ranker fits and the
evaluation) and the served lists (315 s, alone: the other thread idle for its 5 minutes); ARI
0.9695, served lists NDCG@10 0.1722 (5.25x popularity), unchanged; sessionization 1.00, ALS 1.21.
The first split alone (commit fd8e236): 999 s, peak 5,444 MiB. The ranker lists of the two runs
have the same products and ranks; 16 of 4,634,516 scores differ in the 16th digit (one such score
differed at 1M between two builds whose ranker code was the same: not bit-stable across runs). The
`1M` run below (commit c537cb4, alone): 151 s against 161 s (148 s at fd8e236), peak 2,443 MiB
(2,698), the same quality (ARI 0.968, served NDCG@10 0.2393, 3.62x popularity); sessionization
1.00, ALS 1.16 (2.01 at fd8e236, beside the hold-out hybrid), incremental 1.00 with equal marts.
The cost of the split: the test window's candidate pairs for the evaluation sample are built twice
(in __ranker_fits, as a training window of the latest ranker, and in __ranker_holdout, to list
them). Where learning dominates, it does not pay: the Online Retail build (docs/results.md, every
customer in the evaluation sample, thousands of own products each) went 230 -> 259 s, UCI 155 ->
157 s, the same lists everywhere. Building only the kept (negative-subsampled) training pairs'
features would remove most of that work; not done.

The two critical models, less work and both cores (2026-12-05, commits 17c990f, 3b77473 and
08556f9). The hybrid's lists of 50 under a cap of 3 per category (8 categories at 10M: the cap
never fills a list, so every row took the per-category path) find each category's 3 best by three
row maxima over one category-ordered copy of the block, not by a copy, a partition and a tie check
per category, and the content scores come back in row order like the arrays they are blended with.
The served ranker lists make the next batch's candidate pairs in a second thread while the current
one is scored and listed (segrec.overlap; dbt's other thread is idle for most of
__ranker_latest), one core per thread: with the trees' two OpenMP threads beside the pairs, the
scoring took 214 s instead of 73. The logistic member's transform is computed in place on one copy
instead of through scikit-learn's checked and copied steps (exactly scikit-learn's values, a test).
Paired with the previous commit, in turn on this machine (medians): the hybrid's per-block work on
4,013 10M customers 4.79 -> 3.97 s; the served ranker lists' work at 10M 309 -> 221 s, at 1M 19.9
-> 15.4 s (one run). The same lists, candidates and metrics: every hybrid and ranker table of a 1M build
equal to the previous commit's (ranker scores within 9e-16, as between two builds of one commit:
DuckDB's float sums), the 10M served lists equal, ARI and NDCG below unchanged. The whole 1M
build, paired: 170.5 s against 168.2 s (the same: at 1M the served lists run beside the
evaluation, and the hybrid is small), peak about 200 MiB higher (two batches of pairs at once).
The runs below were taken on a slower machine than the previous ones: models this work did not
touch took 1.13x to 1.36x their earlier times (int_events__validated 42.8 -> 50.7 s,
int_recommendation__als_grid 58.5 -> 71.6 s, int_recommendation__holdout_metrics 64.3 -> 87.7 s
at 10M), so their totals do not compare with the 993 s and 151 s above. The `1M` table stays the
c537cb4 run: the whole 1M build paired with this work is the same (above); its bench run at
17c990f on the slower machine took 202 s, peak 2,734 MiB, the same quality. The `10M` table is
commit 08556f9: 916 s against 993 (and 1,181 s
for 17c990f, whose overlap still ran the trees on two threads), the served hybrid 333 s (371), the
served lists 248 s (315, now beside the evaluation for its first minute), peak 5,624 MiB against
5,379: reached in the evaluation beside the served lists' two batches of pairs; ARI 0.9695, NDCG@10
0.1722 (5.25x popularity), sessionization 1.00, ALS 1.20. int_recommendation__als_grid took 69.6 s
(58.5 before): the machine was still slower than in the earlier run.

Less work in the ranker's training, Arrow keys for the matrix, the C allocator for Arrow (2026-12-05,
commits 2d7bff9 and 0500613). The ranker learns from about 1 in 16 of its training pairs (the
negative sampling's); their features are now computed for those alone, after the candidates are
labelled and sampled, instead of for every candidate (the same training frames: equal model and
data versions at 1M, also under the re-buy rule repeat_categories). The interaction matrix's keys
are hashed and sorted by pyarrow instead of factorized in pandas, and segrec's dbt plugin makes the
C allocator pyarrow's memory pool (pyarrow 26 defaults to mimalloc, whose large buffers here fault
their pages in afresh: the served ranker lists of the 1M shop, run alone, 21.6 s whole process
with 8.7 s of system time against 16.5 s and 2.3 s). Measured alone on this machine: the 1M
rankers' training 33.7 -> 28.3 s (two runs each); the 10M serving matrix 1.35 -> 0.9 s warm and
4.7 -> 1.1 s in a fresh process; a whole 1M build with the C allocator against mimalloc, paired
(two runs each, medians): wall 160.4 against 158.0 s (the same), system time 39.7 against 44.4 s,
peak 2,573 against 2,812 MiB. The same results: every table of a 1M build equal to the previous
commit's but for the float sums that differ between any two builds of one commit (the matrices,
ALS factors, hybrid and served lists, segments equal). The `10M` table below is this work (the
bench reports commit 0500613 "dirty": a change to the logistic member's median imputation sat in
the working tree for part of the run; it was measured to give the same models, bit for bit, in the
same time, and dropped): 928 s against 916, __ranker_fits 77.8 s (101.9), __ranker_latest 229.7 s
(247.6), __hybrid_latest 367.4 s (333.4: not touched; it shares the cores with the rest), peak
5,418 MiB (5,624), the same ARI and NDCG. The ALS ratio stays 1.20: the model ran alone, 15.3 s
against 12.8 s of bare fits, and its 2.6 s beside the fit are, timed in a replica of the model in
a fresh process, the matrix (1.6 s), the factor table with its two content hashes of the matrix
(0.5 s), the write (0.3 s) and the reads (0.2 s). The `1M` table stays the c537cb4 run; this
work's 1M run took 174 s on a machine again slower (untouched models 1.14x to 1.45x their c537cb4
times), ALS 1.43 (1.59 s against 1.11 s), incremental 0.95, the same quality.
"""

PENDING = """
## Results

Pending: no results in bench/results/ yet. They are produced with `make bench` on the
benchmark machine and committed with this page.
"""

RATIO_LABELS: dict[str, str] = {
    "sessionization": "sessionization (hand query / project)",
    "incremental": "incremental (1% load / full)",
    "als": "ALS (dbt model / implicit direct)",
}


def seconds(value: float) -> str:
    """Seconds as the page shows them: two decimals below ten seconds, where one would hide
    the difference between the small measurements a ratio compares."""
    return f"{value:,.2f} s" if value < 10 else f"{value:,.1f} s"


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    """A markdown table's lines."""
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def ratio_detail(name: str, ratio: Mapping) -> str:
    """What a ratio compared, in a few words."""
    if name == "sessionization":
        agree = "same" if ratio["sessions_agree"] else "DIFFERENT"
        in_build = f" ({seconds(ratio['in_build_seconds'])} in build)" if "in_build_seconds" in ratio else ""
        return (f"{seconds(ratio['hand_query_seconds'])} vs {seconds(ratio['project_seconds'])}{in_build}; "
                f"{ratio['hand_sessions']:,} vs {ratio['project_sessions']:,} sessions ({agree})")
    if name == "incremental":
        equal = "yes" if ratio["equal"] else "NO"
        models = [seconds(sum(ratio[key].values())) for key in ("incremental_models", "full_refresh_models")]
        return (f"{seconds(ratio['incremental_seconds'])} vs {seconds(ratio['full_refresh_seconds'])}; "
                f"sessionization models {models[0]} vs {models[1]}; marts equal: {equal}")
    return f"{seconds(ratio['dbt_seconds'])} vs {seconds(ratio['direct_seconds'])}; matrix {ratio['matrix']}"


def ratio_row(name: str, ratio: Mapping) -> list[object]:
    """One row of the ratios table; skipped or failed measurements say so."""
    label = RATIO_LABELS[name]
    if "skipped" in ratio:
        return [label, "-", "-", "-", f"skipped: {ratio['skipped']}"]
    if "error" in ratio:
        return [label, "-", "-", "-", f"error: {ratio['error']}"]
    target = ratio["target"].replace(">=", "≥").replace("<=", "≤")
    return [label, f"{ratio['ratio']:.2f}", target, "yes" if ratio["meets_target"] else "no",
            ratio_detail(name, ratio)]


def quality_rows(quality: Mapping) -> list[list[object]]:
    """Rows of the quality table: segment ARI, then NDCG@10 per strategy and served / popularity."""
    segments, recommendations = quality["segments"], quality["recommendations"]
    if "error" in segments:
        rows = [["segments: ARI vs personas", f"error: {segments['error']}"]]
    else:
        rows = [["segments: ARI vs personas",
                 f"{segments['ari']:.3f} ({segments['segments']} segments, {segments['personas']} personas, "
                 f"{segments['customers']:,} customers)"]]
    if "error" in recommendations:
        return rows + [["recommendations: NDCG@10", f"error: {recommendations['error']}"]]
    served = recommendations["served_strategy"]
    for strategy, value in recommendations["ndcg_at_10"].items():
        note = " (served)" if strategy == served else ""
        rows.append([f"NDCG@10 {strategy}{note}", f"{value:.4f}"])
    ratio = recommendations["served_vs_popularity"]
    rows.append([f"NDCG@10 {served} / popularity", "-" if ratio is None else f"{ratio:.2f}"])
    return rows


def memory_lines(peaks: Sequence[Mapping]) -> list[str]:
    """The table of the nodes under which the build's resident set grew most (none for results
    measured before the bench sampled memory)."""
    if not peaks:
        return []
    return [
        f"Largest growth of the resident set while a node ran (top {len(peaks)}; two threads run side by side, "
        "so both figures are the whole build's at those moments):",
        "",
        *table(["node", "growth MiB", "peak RSS MiB"],
               [[node["name"], f"{node['growth_mib']:,}", f"{node['peak_rss_mib']:,}"] for node in peaks]),
        "",
    ]


def size_section(result: Mapping) -> list[str]:
    """The page's section for one size."""
    build, machine = result["build"], result["machine"]
    commit = (result.get("git_commit") or "unknown")[:12]
    lines = [
        f"## {result['size']}: {result['n_events']:,} events, {result['n_customers']:,} customers",
        "",
        f"Measured {result['date']} on commit {commit}: {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, DuckDB {machine['duckdb']}, dbt {machine['dbt']}.",
        "",
        *table(["measure", "value"], [
            ["total build", seconds(build["seconds"])],
            ["peak RSS", f"{build['peak_rss_mib']:,} MiB"],
            ["nodes", f"{build['n_nodes']:,}"],
            ["generate", seconds(result["generate"]["seconds"])],
        ]),
        "",
        "Time per layer:",
        "",
        *table(["layer", "seconds"], [[layer, f"{value:,.1f}"] for layer, value in build["layers"].items()]),
        "",
        f"Slowest {len(build['top_nodes'])} nodes:",
        "",
        *table(["node", "layer", "seconds"],
               [[node["name"], node["layer"], f"{node['seconds']:,.1f}"] for node in build["top_nodes"]]),
        "",
        *memory_lines(build.get("memory_top_nodes", [])),
        "Ratios:",
        "",
        *table(["ratio", "measured", "target", "met", "detail"],
               [ratio_row(name, result["ratios"][name]) for name in RATIO_LABELS if name in result["ratios"]]),
        "",
        "Quality against the generator's truth:",
        "",
        *table(["measure", "value"], quality_rows(result["quality"])),
    ]
    return lines


def render(results: Iterable[Mapping]) -> str:
    """The whole page, sizes from small to large; a pending note when there are none."""
    ordered = sorted(results, key=lambda result: result["n_events"])
    if not ordered:
        return HEADER + PENDING
    sections = ["\n".join(size_section(result)) for result in ordered]
    return HEADER + "\n" + "\n\n".join(sections) + "\n"


def read_results(folder: Path) -> list[dict]:
    """The whole-build results among bench/results/*.json (none when the folder is absent);
    other benchmarks' files there (e.g. spark_als.json) are not build sizes and are skipped."""
    results = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return [result for result in results if {"n_events", "build"} <= set(result)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args(argv)
    results = read_results(args.results)
    args.out.write_text(render(results))
    print(f"wrote {args.out} from {len(results)} result file(s)")


if __name__ == "__main__":
    main()
