"""What a person reads: the run table and the HTML report. May import everything below commands."""
