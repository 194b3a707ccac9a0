//! `kiln images ls` and `kiln images prune`: the images kiln built, and the superseded ones
//! removed.

use std::sync::Arc;

use kiln::images::age_text;
use kiln::{Env, ImageListing, ImagePruneReport, ImageSelection, KeepReason, KeptImage, KilnImage};

use crate::args::{ImagesArgs, ImagesCommand};
use crate::commands::{close, open};
use crate::exit::{BUILD_FAILED, CommandKind, SUCCESS};
use crate::output::Io;
use crate::units::human_bytes;

pub(crate) async fn run(args: ImagesArgs, env: Arc<dyn Env>, io: &Io) -> u8 {
    let (names, json) = match &args.command {
        ImagesCommand::Ls { names, json } | ImagesCommand::Prune { names, json, .. } => {
            (names, *json)
        }
    };
    let selection = match ImageSelection::of(names) {
        Ok(selection) => selection,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    let kiln = match open(env, io).await {
        Ok(kiln) => kiln,
        Err(error) => return io.error(&error, CommandKind::Query, json),
    };
    let code = match args.command {
        ImagesCommand::Ls { json, .. } => match kiln.images(&selection).await {
            Ok(listing) if json => {
                io.json(&listing);
                SUCCESS
            }
            Ok(listing) => {
                print_listing(io, &listing);
                SUCCESS
            }
            Err(error) => io.error(&error, CommandKind::Query, json),
        },
        ImagesCommand::Prune {
            keep,
            dry_run,
            json,
            ..
        } => match kiln.prune_images(&selection, keep, dry_run).await {
            Ok(report) => {
                if json {
                    io.json(&report);
                } else {
                    print_pruned(io, &report);
                }
                if report.failed.is_empty() {
                    SUCCESS
                } else {
                    BUILD_FAILED
                }
            }
            Err(error) => io.error(&error, CommandKind::Query, json),
        },
    };
    close(&kiln, io).await;
    code
}

/// Pads each column of `rows` to its widest cell; the last column is left as is.
fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                if column + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[column]));
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

fn name(image: &KilnImage) -> String {
    image.name.clone().unwrap_or_else(|| "-".to_owned())
}

fn in_use(containers: u32) -> String {
    match containers {
        0 => "-".to_owned(),
        1 => "1 container".to_owned(),
        n => format!("{n} containers"),
    }
}

fn print_listing(io: &Io, listing: &ImageListing) {
    if listing.images.is_empty() {
        io.out("no images built by kiln");
        return;
    }
    let mut rows = vec![
        [
            "IMAGE ID",
            "NAME",
            "TAGS",
            "SIZE",
            "CREATED",
            "IN USE",
            "FINGERPRINT",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for image in &listing.images {
        rows.push(vec![
            image.id.short().to_owned(),
            name(image),
            if image.tags.is_empty() {
                "<none>".to_owned()
            } else {
                image.tags.join(",")
            },
            human_bytes(image.size_bytes),
            age_text(image.age_s),
            in_use(image.containers),
            image
                .fingerprint
                .as_ref()
                .map_or("-".to_owned(), |fingerprint| fingerprint.short().to_owned()),
        ]);
    }
    for line in table(&rows) {
        io.out(&line);
    }
}

/// Why `kept` stays, in words.
fn kept_because(kept: &KeptImage, keep: usize) -> String {
    match kept.reason {
        KeepReason::Newest => format!("among the {keep} newest of its tag"),
        KeepReason::InUse => format!("in use by {}", in_use(kept.image.containers)),
        KeepReason::Needed => match &kept.needed_by {
            Some(by) => format!("image {} is built on it", by.short()),
            None => "another image is built on it".to_owned(),
        },
    }
}

fn print_pruned(io: &Io, report: &ImagePruneReport) {
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for image in &report.removed {
        io.out(&format!(
            "{verb} {} {} ({}, {})",
            image.id.short(),
            name(image),
            human_bytes(image.size_bytes),
            age_text(image.age_s)
        ));
    }
    for kept in report
        .kept
        .iter()
        .filter(|kept| kept.reason != KeepReason::Newest)
    {
        io.out(&format!(
            "keep {} {}: {}",
            kept.image.id.short(),
            name(&kept.image),
            kept_because(kept, report.keep)
        ));
    }
    for failed in &report.failed {
        io.err(&format!(
            "error: could not remove {} {}: {}",
            failed.image.id.short(),
            name(&failed.image),
            failed.error
        ));
    }
    for warning in &report.warnings {
        io.err(&format!("warning: {warning}"));
    }
    let count = |reason: KeepReason| {
        report
            .kept
            .iter()
            .filter(|kept| kept.reason == reason)
            .count()
    };
    io.out(&format!(
        "{verb} {} images ({} in all, layers shared with other images counted) and {} build \
         records; kept {} ({} among the {} newest of their tags, {} in use, {} built on)",
        report.removed.len(),
        human_bytes(report.removed_bytes),
        report.records_removed,
        report.kept.len(),
        count(KeepReason::Newest),
        report.keep,
        count(KeepReason::InUse),
        count(KeepReason::Needed),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_every_column_but_the_last() {
        let rows = vec![
            vec!["A".to_owned(), "BB".to_owned(), "C".to_owned()],
            vec!["aaa".to_owned(), "b".to_owned(), "ccc".to_owned()],
        ];
        assert_eq!(table(&rows), vec!["A    BB  C", "aaa  b   ccc"]);
    }

    #[test]
    fn use_counts_read_naturally() {
        assert_eq!(in_use(0), "-");
        assert_eq!(in_use(1), "1 container");
        assert_eq!(in_use(3), "3 containers");
    }
}
