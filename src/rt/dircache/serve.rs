//! Serving from a [`super::DirCache`] ([`DirSource`]), with C tor's consensus rules.

use super::{now_unix, DirCache, REASONABLY_LIVE};
use crate::dir::doc::authcert::AuthCert;
use crate::dir::serve::{
    client_likes_consensus, lifetime, DirAnswer, DirRequest, DirSource, Document,
};

impl DirCache {
    fn answer_consensus(&self, req: &DirRequest, now: u64) -> DirAnswer {
        let DirRequest::Consensus {
            flavor,
            authorities,
            diff_from,
            diff_only,
            if_modified_since,
        } = req
        else {
            return DirAnswer::not_found();
        };
        let Some(c) = self.consensus(*flavor) else {
            return DirAnswer::not_found();
        };
        if diff_from.contains(&c.sha3) {
            return DirAnswer::not_modified();
        }
        if *diff_only {
            return DirAnswer::status(404, "No such diff available");
        }
        let k = &c.consensus;
        if now.saturating_add(REASONABLY_LIVE) < k.valid_after {
            return DirAnswer::status(404, "Consensus is too new");
        }
        if now > k.valid_until.saturating_add(REASONABLY_LIVE) {
            return DirAnswer::status(404, "Consensus is too old");
        }
        if !client_likes_consensus(&c.signers, authorities) {
            return DirAnswer::status(
                404,
                "Consensus not signed by sufficient number of requested authorities",
            );
        }
        if if_modified_since.is_some_and(|t| k.valid_after < t) {
            return DirAnswer::not_modified();
        }
        DirAnswer::Document(Document {
            lifetime: k.fresh_until.saturating_sub(now),
            ..c.doc.clone()
        })
    }
}

fn concat<'a>(parts: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    parts.flat_map(|p| p.iter().copied()).collect()
}

impl DirSource for DirCache {
    fn get(&self, req: &DirRequest) -> DirAnswer {
        let now = now_unix();
        let st = self.read();
        let keys = |f: &dyn Fn(&AuthCert) -> bool| {
            let body = concat(st.certs.iter().filter(|c| f(c)).map(|c| c.text.as_bytes()));
            DirAnswer::document(body, lifetime::KEYS)
        };
        match req {
            DirRequest::Consensus { .. } => {
                drop(st);
                self.answer_consensus(req, now)
            }
            DirRequest::KeysAll => keys(&|_| true),
            DirRequest::KeysFp(ids) => keys(&|c| ids.contains(&c.fingerprint)),
            DirRequest::KeysSk(ids) => keys(&|c| ids.contains(&c.signing_key_digest())),
            DirRequest::KeysFpSk(pairs) => {
                keys(&|c| pairs.contains(&(c.fingerprint, c.signing_key_digest())))
            }
            DirRequest::Micro(ds) => {
                let body = concat(ds.iter().filter_map(|d| st.mds.get(d)).map(|b| b.as_ref()));
                DirAnswer::document(body, lifetime::MICRODESC)
            }
            DirRequest::ServerAuthority => match &st.own_descriptor {
                Some((_, d)) => DirAnswer::document(d.clone(), 0),
                None => DirAnswer::not_found(),
            },
            DirRequest::ServerFp(ids) => match &st.own_descriptor {
                Some((id, d)) if ids.contains(id) => {
                    DirAnswer::document(d.clone(), lifetime::ROUTERDESC_BY_DIGEST)
                }
                _ => DirAnswer::not_found(),
            },
            _ => DirAnswer::not_found(),
        }
    }

    fn upload(&self, _body: &[u8]) -> DirAnswer {
        DirAnswer::status(
            400,
            "Nonauthoritative directory does not accept posted server descriptors",
        )
    }
}
