//! The captcha's lifecycle: single use, right or wrong; expiry; the proof of work.

use sesame_core::captcha::{LIFETIME, POW_BITS, Response, pow_solved};

use crate::world::World;

fn solve(challenge: &str) -> String {
    (0u64..).map(|n| n.to_string()).find(|n| pow_solved(challenge, n)).unwrap()
}

#[tokio::test]
async fn an_image_answer_works_once_whatever_its_case() {
    let world = World::new().await;
    let captcha = &world.services.captcha;
    let challenge = captcha.issue("k7Pq2").await.unwrap();
    assert_eq!(challenge.pow_bits, POW_BITS);
    assert!(captcha.check(Response::Image { id: &challenge.id, text: " K7PQ2 " }).await.unwrap());
    assert!(!captcha.check(Response::Image { id: &challenge.id, text: "k7pq2" }).await.unwrap(), "used up");
}

#[tokio::test]
async fn a_wrong_answer_uses_the_challenge_up_too() {
    let world = World::new().await;
    let captcha = &world.services.captcha;
    let challenge = captcha.issue("k7pq2").await.unwrap();
    assert!(!captcha.check(Response::Image { id: &challenge.id, text: "abcde" }).await.unwrap());
    assert!(!captcha.check(Response::Image { id: &challenge.id, text: "k7pq2" }).await.unwrap());
    assert!(!captcha.check(Response::Image { id: "", text: "k7pq2" }).await.unwrap());
    assert!(!captcha.check(Response::Image { id: "inconnu", text: "k7pq2" }).await.unwrap());
}

#[tokio::test]
async fn a_challenge_expires() {
    let world = World::new().await;
    let captcha = &world.services.captcha;
    let challenge = captcha.issue("k7pq2").await.unwrap();
    world.advance(LIFETIME);
    assert!(!captcha.check(Response::Image { id: &challenge.id, text: "k7pq2" }).await.unwrap());
    let nonce = solve(&challenge.pow);
    assert!(!captcha.check(Response::ProofOfWork { challenge: &challenge.pow, nonce: &nonce }).await.unwrap());
}

#[tokio::test]
async fn a_proof_of_work_passes_once_and_only_for_an_issued_challenge() {
    let world = World::new().await;
    let captcha = &world.services.captcha;
    let challenge = captcha.issue("k7pq2").await.unwrap();
    let nonce = solve(&challenge.pow);
    let unsolved = (0u64..).map(|n| n.to_string()).find(|n| !pow_solved(&challenge.pow, n)).unwrap();
    assert!(!captcha.check(Response::ProofOfWork { challenge: &challenge.pow, nonce: &unsolved }).await.unwrap());
    let pow = Response::ProofOfWork { challenge: &challenge.pow, nonce: &nonce };
    assert!(captcha.check(pow).await.unwrap());
    assert!(!captcha.check(pow).await.unwrap(), "used up");
    // A challenge Sésame never issued, even solved, passes nothing.
    let forged = "forged-challenge";
    let forged_nonce = solve(forged);
    assert!(!captcha.check(Response::ProofOfWork { challenge: forged, nonce: &forged_nonce }).await.unwrap());
    // The image's answer of the same challenge stays usable: they are two rows.
    assert!(captcha.check(Response::Image { id: &challenge.id, text: "k7pq2" }).await.unwrap());
}
