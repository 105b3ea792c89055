"""The demo data generator: realistic inputs for `costline demo` and the tests.

It writes what real teams drop into the input folder (telemetry in every format, outcomes,
reference files) and what providers' admin APIs return (saved billing pages), from a seeded
scenario. It is not part of the warehouse: nothing in `ingestion/` imports it, and its bills
are priced from its own rate card (`rates.csv`), never from the warehouse's pricing rule.
"""
