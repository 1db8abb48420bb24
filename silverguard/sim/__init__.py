"""Running the whole product on one machine: the demo, end-to-end tests, benchmarks."""
