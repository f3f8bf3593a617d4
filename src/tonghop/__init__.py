"""tonghop: turn the Excel returns of a Party committee's branches into its Word report."""

__version__ = "0.1.0"
