//! The `tfidf-logreg` baseline: TF-IDF over word 1- and 2-grams (smooth idf, L2-normalised rows,
//! as scikit-learn's `TfidfVectorizer(ngram_range=(1, 2))`) and a multinomial logistic regression
//! trained by AdaGrad with L2 regularisation. It shows what a fine-tuned transformer buys.

use std::collections::HashMap;

use crate::rng::Rng;

/// Training passes over the data.
const EPOCHS: usize = 30;
const LEARNING_RATE: f32 = 0.5;
/// L2 penalty per example (applied to the touched features).
const L2: f32 = 1e-4;

/// A fitted TF-IDF + logistic-regression classifier.
#[derive(Debug, Clone)]
pub struct TfidfLogReg {
    vocab: HashMap<String, usize>,
    idf: Vec<f32>,
    /// `weights[feature * classes + class]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    classes: usize,
}

/// Lower-cased word 1- and 2-grams.
fn ngrams(text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out = words.clone();
    out.extend(words.windows(2).map(|w| format!("{} {}", w[0], w[1])));
    out
}

impl TfidfLogReg {
    /// Fits on `texts` with label indices `labels` (< `classes`); `seed` fixes the data order.
    pub fn fit(texts: &[String], labels: &[usize], classes: usize, seed: u64) -> Self {
        let mut vocab: HashMap<String, usize> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        for t in texts {
            let mut grams = ngrams(t);
            grams.sort();
            grams.dedup();
            for g in grams {
                let next = vocab.len();
                let id = *vocab.entry(g).or_insert(next);
                if id == df.len() {
                    df.push(0);
                }
                df[id] += 1;
            }
        }
        let n = texts.len() as f32;
        let idf: Vec<f32> = df.iter().map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).collect();
        let mut model = Self { vocab, idf, weights: Vec::new(), bias: vec![0.0; classes], classes };
        let docs: Vec<Vec<(usize, f32)>> = texts.iter().map(|t| model.features(t)).collect();
        let f = model.idf.len();
        model.weights = vec![0.0; f * classes];
        let mut acc_w = vec![1e-8f32; f * classes];
        let mut acc_b = vec![1e-8f32; classes];
        let mut order: Vec<usize> = (0..docs.len()).collect();
        let mut rng = Rng::new(seed);
        let mut probs = vec![0f32; classes];
        for _ in 0..EPOCHS {
            rng.shuffle(&mut order);
            for &i in &order {
                model.scores_into(&docs[i], &mut probs);
                softmax(&mut probs);
                probs[labels[i]] -= 1.0;
                for (c, g) in probs.iter().enumerate() {
                    acc_b[c] += g * g;
                    model.bias[c] -= LEARNING_RATE * g / acc_b[c].sqrt();
                }
                for &(j, x) in &docs[i] {
                    for (c, g) in probs.iter().enumerate() {
                        let k = j * classes + c;
                        let grad = g * x + L2 * model.weights[k];
                        acc_w[k] += grad * grad;
                        model.weights[k] -= LEARNING_RATE * grad / acc_w[k].sqrt();
                    }
                }
            }
        }
        model
    }

    /// The L2-normalised TF-IDF vector of a text (unknown n-grams dropped).
    fn features(&self, text: &str) -> Vec<(usize, f32)> {
        let mut counts: HashMap<usize, f32> = HashMap::new();
        for g in ngrams(text) {
            if let Some(&id) = self.vocab.get(&g) {
                *counts.entry(id).or_default() += 1.0;
            }
        }
        let mut v: Vec<(usize, f32)> =
            counts.into_iter().map(|(id, c)| (id, c * self.idf[id])).collect();
        v.sort_by_key(|&(id, _)| id);
        let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|(_, x)| *x /= norm);
        }
        v
    }

    fn scores_into(&self, doc: &[(usize, f32)], out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for &(j, x) in doc {
            let row = &self.weights[j * self.classes..(j + 1) * self.classes];
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * x;
            }
        }
    }

    /// Class probabilities of a text.
    pub fn probabilities(&self, text: &str) -> Vec<f32> {
        let mut p = vec![0f32; self.classes];
        self.scores_into(&self.features(text), &mut p);
        softmax(&mut p);
        p
    }

    /// The most probable class of a text.
    pub fn predict(&self, text: &str) -> usize {
        crate::classify::predict::argmax(&self.probabilities(text))
    }
}

fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    v.iter_mut().for_each(|x| *x /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_keyword_classes() {
        let texts: Vec<String> =
            ["my card is lost", "card stolen yesterday", "refund my money", "want a refund now"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let m = TfidfLogReg::fit(&texts, &[0, 0, 1, 1], 2, 0);
        assert_eq!(m.predict("lost card"), 0);
        assert_eq!(m.predict("refund please"), 1);
        assert_eq!(ngrams("Lost my card!"), ["lost", "my", "card", "lost my", "my card"]);
    }
}
