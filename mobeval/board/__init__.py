"""`mobeval board`: every run folder under some directories, checked, grouped by benchmark and ranked.

- `figures.py`: what a board shows of each task kind (one table keyed by kind name) and the 95% intervals;
- `entry.py`: one run's row, made from its checked folder (the result and the integrity check only);
- `discover.py`: the run folders under a directory;
- `index.py`: the SQLite index of rows, so unchanged folders are not read again;
- `rank.py`: filters, grouping by benchmark, tiers and ranks, the Pareto front;
- `render.py`: the terminal table, Markdown, CSV and JSON; `html.py` and `plots.py`: the page.
"""
