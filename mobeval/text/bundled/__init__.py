"""The multiple-choice questions mobeval ships (everyday_mobile.csv: the offline default benchmark)."""
