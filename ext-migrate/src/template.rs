//! `db new NAME`: a new migration file from a template, named with the
//! UTC time like sea-orm-cli's (`m20261123_224701_create_post.rs`).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::MigrateError;

/// Year, month, day from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `mYYYYMMDD_HHMMSS` for a time in seconds since the epoch.
pub(crate) fn stamp(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "m{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

const TEMPLATE: &str = r#"//! Migration `{NAME}`. Register it in the app factory:
//! `Migrate::new().migration({MODULE}::Migration)`.

use phial::migrate::sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // For example:
        // manager.create_table(Table::create().table("thing").if_not_exists()
        //     .col(ColumnDef::new("id").integer().not_null().auto_increment().primary_key())
        //     .to_owned()).await
        let _ = manager;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Undo `up`, e.g. manager.drop_table(Table::drop().table("thing").to_owned()).await
        let _ = manager;
        Ok(())
    }
}
"#;

/// Writes the file; refuses names that are not `snake_case` identifiers.
pub(crate) fn write(dir: &Path, name: &str) -> Result<PathBuf, MigrateError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(MigrateError::Write {
            path: name.to_owned(),
            error: "the name must be snake_case letters, digits and `_` (e.g. create_post)".into(),
        });
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let module = format!("{}_{name}", stamp(secs));
    let path = dir.join(format!("{module}.rs"));
    let text = TEMPLATE
        .replace("{NAME}", &module)
        .replace("{MODULE}", &module);
    let fail = |e: std::io::Error| MigrateError::Write {
        path: path.display().to_string(),
        error: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .map_err(fail)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(stamp(0), "m19700101_000000");
        assert_eq!(stamp(1_795_561_621), "m20261124_230701");
        assert_eq!(stamp(951_782_400), "m20000229_000000");
    }

    #[test]
    fn names_are_checked_and_files_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), "Create-Post").is_err());
        let path = write(dir.path(), "create_post").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("impl MigrationTrait for Migration"));
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("_create_post.rs")
        );
    }
}
