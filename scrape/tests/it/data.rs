//! The committed lexicon data files agree with each other and with the precision rules.

use records::Lexicon;
use scrape::normalize::{is_acronym, singular};
use scrape::StopList;

use crate::data_file;

fn committed() -> (Lexicon, StopList) {
    let lexicon = Lexicon::read(&data_file("lexicon.csv")).expect("data/lexicon.csv");
    let stop =
        StopList::read(&data_file("lexicon-stoplist.txt")).expect("data/lexicon-stoplist.txt");
    (lexicon, stop)
}

/// Common English words that are not (only) car parts; tagging them alone in reviews would
/// mark "handles well", "trim level", "I'm a fan", "spring 2015" as parts.
const NOT_PARTS_ALONE: &[&str] = &[
    "handle", "trim", "fan", "spring", "switch", "wing", "body", "frame", "cover", "power",
    "light", "key", "hitch", "boot", "jack", "step", "cap", "gear", "label", "nut", "trap",
    "rubber", "children", "leaf", "mounting", "part", "sensor", "system", "unit",
];

#[test]
fn committed_lexicon_has_no_stop_listed_or_common_word_surface() {
    let (lexicon, stop) = committed();
    for e in lexicon.entries() {
        assert_eq!(
            stop.reason(&e.surface),
            None,
            "stop-listed surface {:?} in data/lexicon.csv",
            e.surface
        );
        assert!(!NOT_PARTS_ALONE.contains(&e.surface.as_str()), "{:?} is a surface", e.surface);
    }
}

#[test]
fn committed_lexicon_is_well_formed() {
    let (lexicon, _) = committed();
    assert!(lexicon.canonical_count() >= 600, "{} canonical parts", lexicon.canonical_count());
    let surfaces: std::collections::BTreeSet<&str> =
        lexicon.entries().iter().map(|e| e.surface.as_str()).collect();
    assert_eq!(surfaces.len(), lexicon.len(), "a surface maps to two canonicals");
    for e in lexicon.entries() {
        assert!(
            surfaces.contains(e.canonical.as_str()),
            "canonical {:?} is not a surface",
            e.canonical
        );
        let lower_or_acronym = e.surface.split(' ').all(|w| is_acronym(w) || w == w.to_lowercase());
        assert!(lower_or_acronym, "surface {:?} is neither lower case nor an acronym", e.surface);
        assert!(!e.source.is_empty(), "{e:?} has no source");
        // The labeler makes plurals itself; the lexicon holds singular forms.
        let last = e.surface.rsplit(' ').next().unwrap_or_default();
        assert!(is_acronym(last) || singular(last) == last, "plural surface {:?}", e.surface);
    }
}

#[test]
fn extra_aliases_are_not_stop_listed() {
    let (_, stop) = committed();
    let text = std::fs::read_to_string(data_file("lexicon-extra-aliases.csv")).unwrap();
    let mut rows = 0;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).skip(1) {
        let (alias, canonical) = line.split_once(',').expect("alias,canonical");
        for word in [alias, canonical] {
            let name = scrape::normalize::clean_name(word).unwrap();
            assert_eq!(stop.reason(&name), None, "{word:?} in the extra aliases is stop-listed");
        }
        rows += 1;
    }
    assert!(rows > 20, "{rows} extra aliases");
}
