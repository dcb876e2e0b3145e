//! Integration tests of the scrape crate.
