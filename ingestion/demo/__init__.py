"""Building blocks of the demo data generator (`ingestion.demo_data`)."""
