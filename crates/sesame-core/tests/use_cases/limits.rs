//! Per-address limits: each attempt kind its own counter, a minute's window, off when
//! throttling is off.

use sesame_core::limits::{ADDRESS_WINDOW, Attempt};
use sesame_core::services::CoreSettings;
use sesame_core::throttle::ThrottleSettings;

use crate::world::World;

fn settings(per_minute: u32, enabled: bool) -> CoreSettings {
    let throttle = ThrottleSettings { per_address_per_minute: per_minute, enabled, ..ThrottleSettings::default() };
    CoreSettings { throttle, ..CoreSettings::default() }
}

#[tokio::test]
async fn an_address_over_its_limit_waits_for_the_window_and_others_do_not() {
    let world = World::with(settings(3, true)).await;
    let limits = &world.services.limits;
    for _ in 0..3 {
        assert!(limits.hit(Attempt::Login, "192.0.2.10").await.unwrap().is_ok());
    }
    let over = limits.hit(Attempt::Login, "192.0.2.10").await.unwrap().expect_err("the fourth");
    assert_eq!(over.retry_after, ADDRESS_WINDOW.whole_seconds());
    assert!(limits.hit(Attempt::Login, "192.0.2.11").await.unwrap().is_ok(), "another address");
    assert!(limits.hit(Attempt::Reset, "192.0.2.10").await.unwrap().is_ok(), "another counter");
    world.advance(ADDRESS_WINDOW);
    assert!(limits.hit(Attempt::Login, "192.0.2.10").await.unwrap().is_ok());
}

#[tokio::test]
async fn no_limit_when_throttling_is_off() {
    let world = World::with(settings(1, false)).await;
    for _ in 0..5 {
        assert!(world.services.limits.hit(Attempt::Api, "192.0.2.10").await.unwrap().is_ok());
    }
}
