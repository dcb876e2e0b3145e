use eval::classification::{read_class_predictions, read_labels, ClassificationReport};
use eval::plot::confusion::{render_confusion_png, ConfusionConfig};

use crate::{assert_readable_png, fixture, has_pixel};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

/// Hand computation for `classify/predictions.jsonl` in the order of `classify/labels.txt`
/// (top_up_failed, card_arrival, lost_or_stolen_card):
///
/// ```text
/// true \ predicted   top_up  card  lost    support  P          R      F1
/// top_up_failed         1      0     0        1     1/2        1      2/3
/// card_arrival          0      2     1        3     2/2 = 1    2/3    0.8
/// lost_or_stolen_card   1      0     1        2     1/2        1/2    1/2
/// accuracy 4/6; macro F1 (2/3 + 0.8 + 0.5)/3; weighted F1 (1*2/3 + 3*0.8 + 2*0.5)/6
/// ```
#[test]
fn metrics_and_matrix_follow_the_label_file_order() {
    let preds = read_class_predictions(&fixture("classify/predictions.jsonl")).unwrap();
    let labels = read_labels(&fixture("classify/labels.txt")).unwrap();
    let pairs: Vec<(&str, &str)> =
        preds.iter().map(|p| (p.label.as_str(), p.predicted.as_str())).collect();
    let r = ClassificationReport::from_names(Some(labels), &pairs).unwrap();
    assert_eq!(r.labels, ["top_up_failed", "card_arrival", "lost_or_stolen_card"]);
    assert_eq!(r.confusion, vec![vec![1, 0, 0], vec![0, 2, 1], vec![1, 0, 1]]);
    close(r.accuracy, 4.0 / 6.0);
    let f1: Vec<f64> = r.per_class.iter().map(|c| c.f1).collect();
    close(f1[0], 2.0 / 3.0);
    close(f1[1], 0.8);
    close(f1[2], 0.5);
    close(r.macro_f1, (2.0 / 3.0 + 0.8 + 0.5) / 3.0);
    close(r.weighted_f1, (2.0 / 3.0 + 3.0 * 0.8 + 2.0 * 0.5) / 6.0);
    assert_eq!(r.per_class.iter().map(|c| c.support).collect::<Vec<_>>(), [1, 3, 2]);
}

#[test]
fn integer_labels_are_read_as_text_and_bad_fields_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    std::fs::write(
        &path,
        "{\"label\": 2, \"predicted\": 10}\n{\"label\": \"2\", \"predicted\": 2}\n",
    )
    .unwrap();
    let preds = read_class_predictions(&path).unwrap();
    assert_eq!((preds[0].label.as_str(), preds[0].predicted.as_str()), ("2", "10"));
    std::fs::write(&path, "{\"label\": 2}\n").unwrap();
    let err = read_class_predictions(&path).unwrap_err().to_string();
    assert!(err.ends_with("p.jsonl: line 1: field \"predicted\": missing"), "{err}");
    std::fs::write(&path, "{\"label\": 0.5, \"predicted\": 1}\n").unwrap();
    let err = read_class_predictions(&path).unwrap_err().to_string();
    assert!(err.contains("field \"label\": expected a string or an integer"), "{err}");
}

#[test]
fn a_77_class_confusion_matrix_grows_to_stay_readable() {
    // 77 intents with realistic names; every class mostly right, some confused with the next.
    let labels: Vec<String> =
        (0..77).map(|i| format!("intent_number_{i:02}_with_a_long_name")).collect();
    let mut pairs = Vec::new();
    for i in 0..77 {
        for k in 0..(10 + i % 7) {
            let predicted = if k % 5 == 0 { (i + 1) % 77 } else { i };
            pairs.push((i, predicted));
        }
    }
    let r = ClassificationReport::from_indices(labels, pairs).unwrap();
    let png = render_confusion_png(&r, &ConfusionConfig::default()).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    // At least 24 pixels per cell, so counts fit in the cells.
    assert!(w >= 77 * 24 && h >= 77 * 24, "{w}x{h}");
    let img = assert_readable_png(&png, w, h);
    // Diagonal cells are dark blue, confusions red.
    let blue = |[r, g, b]: [u8; 3]| b > 150 && b as i32 - r as i32 > 90 && b as i32 - g as i32 > 40;
    let red = |[r, g, b]: [u8; 3]| r > 180 && r as i32 - g as i32 > 80 && r as i32 - b as i32 > 80;
    assert!(has_pixel(&img, blue), "no blue diagonal");
    assert!(has_pixel(&img, red), "no red confusion cells");
}
