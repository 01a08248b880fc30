"""Human evaluation: pairwise rating web form, storage (SQLAlchemy) and vote aggregation."""
