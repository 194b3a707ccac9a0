//! Work shared out over the cores: every thread takes the next item until none is left.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// `work(&mut state, item)` for every item of `items`, on as many threads as there are cores
/// (never more than there are items), each thread with a `state` of its own from `new_state`.
/// The results come back in the order of `items`; when items fail, one of their errors does.
pub(crate) fn map_on_cores<I, T, E, S>(
    items: &[I],
    new_state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E>
where
    I: Sync,
    T: Send,
    E: Send,
{
    let threads = thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len());
    if threads <= 1 {
        let mut state = new_state();
        return items.iter().map(|item| work(&mut state, item)).collect();
    }
    let next = AtomicUsize::new(0);
    let parts: Vec<Result<Vec<(usize, T)>, E>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = new_state();
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else {
                            return Ok(done);
                        };
                        done.push((index, work(&mut state, item)?));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut slots: Vec<Option<T>> = (0..items.len()).map(|_| None).collect();
    for part in parts {
        for (index, value) in part? {
            slots[index] = Some(value);
        }
    }
    // Without an error every index was taken by exactly one thread, so every slot is filled.
    Ok(slots.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = map_on_cores(
            &items,
            || 0usize,
            |calls, n| {
                *calls += 1;
                Ok::<_, String>(n * 2)
            },
        )
        .unwrap();
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_is_returned() {
        let items: Vec<u32> = (0..100).collect();
        let result = map_on_cores(
            &items,
            || (),
            |(), n| {
                if *n == 57 {
                    Err(format!("item {n}"))
                } else {
                    Ok(*n)
                }
            },
        );
        assert_eq!(result, Err("item 57".to_owned()));
    }

    #[test]
    fn no_items_no_work() {
        let items: Vec<u32> = Vec::new();
        let result = map_on_cores(&items, || (), |(), _| Err::<u32, _>("called"));
        assert_eq!(result, Ok(Vec::new()));
    }
}
