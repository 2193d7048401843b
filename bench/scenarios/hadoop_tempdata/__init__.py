"""The hadoop-tempdata scenario: its steps, findings and cluster model."""
