"""Result tables (pandas), figures (seaborn) and static HTML reports (jinja2), rendered from stored results only."""
