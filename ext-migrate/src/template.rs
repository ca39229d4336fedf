//! `db new NAME`: a new migration file from a template, named with the
//! UTC time like sea-orm-cli's (`m20261123_224701_create_post.rs`).

use std::path::{Path, PathBuf};

use crate::error::MigrateError;

/// `mYYYYMMDD_HHMMSS` for a time in seconds since the epoch (UTC).
pub(crate) fn stamp(secs: i64) -> String {
    let at = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    at.format("m%Y%m%d_%H%M%S").to_string()
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
    let module = format!("{}_{name}", stamp(chrono::Utc::now().timestamp()));
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
