"""Monthly reports (辍学月报告): sealed, submitted and approved bottom-up, restated but never edited."""
