//! The authority as a [`DirSource`]: consensuses of both flavours, its certificate,
//! microdescriptors, server descriptors, and `POST /tor/` uploads with C tor's replies.

use std::sync::Arc;

use super::service::{unix_now, AuthorityService};
use crate::dir::serve::{client_likes_consensus, lifetime, DirAnswer, DirRequest, DirSource};

/// A [`DirSource`] over a running [`AuthorityService`].
#[derive(Debug, Clone)]
pub struct AuthoritySource(pub Arc<AuthorityService>);

fn doc_or_404(body: String, life: u64) -> DirAnswer {
    if body.is_empty() {
        DirAnswer::not_found()
    } else {
        DirAnswer::document(body, life)
    }
}

impl DirSource for AuthoritySource {
    fn get(&self, req: &DirRequest) -> DirAnswer {
        let svc = &self.0;
        let cert = || svc.keys().cert_text().to_string();
        let v3 = svc.keys().v3ident();
        match req {
            DirRequest::Consensus {
                flavor,
                authorities,
                diff_only,
                if_modified_since,
                ..
            } => {
                if *diff_only {
                    return DirAnswer::status(404, "No such diff available");
                }
                if !client_likes_consensus(&[v3], authorities) {
                    return DirAnswer::status(
                        404,
                        "Consensus not signed by sufficient number of requested authorities",
                    );
                }
                let Some(p) = svc.published() else {
                    return DirAnswer::not_found();
                };
                if if_modified_since.is_some_and(|t| t >= p.valid_after) {
                    return DirAnswer::not_modified();
                }
                let text = match flavor {
                    crate::dir::doc::consensus::Flavor::Microdesc => p.microdesc,
                    crate::dir::doc::consensus::Flavor::Ns => p.ns,
                };
                let life = (p.valid_after + p.interval).saturating_sub(unix_now());
                DirAnswer::document(text.as_bytes().to_vec(), life)
            }
            DirRequest::KeysAll | DirRequest::KeysAuthority => {
                DirAnswer::document(cert(), lifetime::KEYS)
            }
            DirRequest::KeysFp(ids) if ids.contains(&v3) => {
                DirAnswer::document(cert(), lifetime::KEYS)
            }
            DirRequest::KeysSk(sks) if sks.contains(&svc.keys().cert().signing_key_digest()) => {
                DirAnswer::document(cert(), lifetime::KEYS)
            }
            DirRequest::KeysFpSk(pairs)
                if pairs
                    .iter()
                    .any(|(f, s)| *f == v3 && *s == svc.keys().cert().signing_key_digest()) =>
            {
                DirAnswer::document(cert(), lifetime::KEYS)
            }
            DirRequest::Micro(ds) => doc_or_404(svc.microdescs(ds), lifetime::MICRODESC),
            DirRequest::ServerAuthority => match svc.server_authority() {
                Some(d) => DirAnswer::document(d, lifetime::ROUTERDESC_BY_DIGEST),
                None => DirAnswer::not_found(),
            },
            DirRequest::ServerAll => doc_or_404(svc.server_all(), lifetime::FULL_DIR),
            DirRequest::ServerFp(ids) => {
                doc_or_404(svc.server_fp(ids), lifetime::ROUTERDESC_BY_DIGEST)
            }
            DirRequest::ServerD(ds) => doc_or_404(svc.server_d(ds), lifetime::ROUTERDESC_BY_DIGEST),
            DirRequest::Upload(body) => self.upload(body),
            _ => DirAnswer::not_found(),
        }
    }

    fn upload(&self, body: &[u8]) -> DirAnswer {
        let r = self.0.upload(body);
        DirAnswer::status(r.status, &r.message)
    }
}
