//! The blog's migrations, in order. `blog db new NAME` writes a new file
//! here; add it to the list.

use phial::migrate::sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261123_000001_create_author;
mod m20261123_000002_create_post;
mod m20261123_000003_create_comment;
mod m20261202_000004_author_password;
mod m20261207_000005_list_indexes;

/// Every migration of the blog.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_author::Migration),
            Box::new(m20261123_000002_create_post::Migration),
            Box::new(m20261123_000003_create_comment::Migration),
            Box::new(m20261202_000004_author_password::Migration),
            Box::new(m20261207_000005_list_indexes::Migration),
        ]
    }
}
