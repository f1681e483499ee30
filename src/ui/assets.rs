//! Static assets compiled into the binary and served under content-hashed URLs
//! (`/assets/app.3f9c2a1b.css`), so they can be cached for a year and a deploy still replaces
//! them at once. The binary works offline and needs no asset directory at run time.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.7.min.js"),
    },
    Asset {
        name: "htmx-sse.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-ext-sse-2.2.4.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/icons/icon.svg"),
    },
    Asset {
        name: "store.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/store.js"),
    },
    Asset {
        name: "forms.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/forms.js"),
    },
    Asset {
        name: "offline.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/offline.js"),
    },
];

struct Table {
    /// logical name → hashed file name
    urls: HashMap<&'static str, String>,
    /// hashed file name → asset
    by_hashed: HashMap<String, (&'static Asset, &'static [u8])>,
}

/// The words of each operation kind's entries, as a JSON object, for the device's own lists in
/// `offline.js`: each kind declares them (`Spec::entry`), and `kinds::install` hands them here
/// before the first page is served.
static KIND_WORDS: OnceLock<String> = OnceLock::new();

pub fn set_kind_words(json: String) {
    let _ = KIND_WORDS.set(json);
}

/// An asset's bytes as served: `offline.js` with the kinds' words filled in, once, before the
/// file is hashed.
fn filled(asset: &'static Asset) -> &'static [u8] {
    if asset.name != "offline.js" {
        return asset.bytes;
    }
    let words = KIND_WORDS.get().map_or("{}", String::as_str);
    let text = String::from_utf8_lossy(asset.bytes).replace("__KIND_WORDS__", words);
    Box::leak(text.into_bytes().into_boxed_slice())
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut urls = HashMap::new();
        let mut by_hashed = HashMap::new();
        for asset in ASSETS {
            let bytes = filled(asset);
            let digest = hex::encode(&Sha256::digest(bytes)[..4]);
            let hashed = match asset.name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{digest}.{ext}"),
                None => format!("{}.{digest}", asset.name),
            };
            urls.insert(asset.name, format!("/assets/{hashed}"));
            by_hashed.insert(hashed, (asset, bytes));
        }
        Table { urls, by_hashed }
    })
}

/// The hashed URL of an asset, for templates. An unknown name is a programming error caught by
/// the asset test, so it maps to a URL that 404s rather than panicking in a request.
pub fn url(name: &str) -> &'static str {
    table()
        .urls
        .get(name)
        .map(String::as_str)
        .unwrap_or("/assets/missing")
}

/// All hashed asset URLs (the service worker precaches them).
pub fn all_urls() -> impl Iterator<Item = &'static str> {
    table().urls.values().map(String::as_str)
}

/// A digest of every asset, naming the service worker's shell cache: a deploy that changes
/// any asset gets a new cache and the old one is dropped.
pub fn version() -> String {
    let mut names: Vec<&str> = all_urls().collect();
    names.sort_unstable();
    hex::encode(&Sha256::digest(names.join("|").as_bytes())[..6])
}

pub async fn serve(path: web::Path<String>) -> HttpResponse {
    match table().by_hashed.get(path.as_str()) {
        Some((asset, bytes)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, asset.content_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(*bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{file}", web::get().to(serve));
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_asset_has_a_distinct_hashed_url() {
        let urls: Vec<_> = super::all_urls().collect();
        assert_eq!(urls.len(), super::ASSETS.len());
        assert!(
            super::url("app.css").starts_with("/assets/app.")
                && super::url("app.css").ends_with(".css")
        );
        assert_eq!(super::url("nope.css"), "/assets/missing");
    }
}
