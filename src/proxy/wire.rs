//! What the proxy adds to the protocol module (`crate::service`, whose
//! codec both ends share): the daemon's errors other than `Failed` turned
//! into the API's [`Error`], a reply that does not decode, and the
//! parameters of calls.

use serde_json::{Map, Value};

use crate::engine::error::{Error, Result};
use crate::engine::types::JobId;
use crate::hresult::*;
use crate::service::codec::{self, JobSnapshot};
use crate::service::varlink::errors as varlink_errors;
use crate::service::LIMIT_REACHED;

/// The members of a reply or record.
pub(crate) type Fields = Map<String, Value>;

/// `QM_E_UNEXPECTED`: the daemon sent something the interface does not allow.
pub(crate) fn unexpected(what: impl std::fmt::Display) -> Error {
    Error::new(
        QM_E_UNEXPECTED,
        format!("the qmgr daemon's reply does not read as io.qmgr says: {what}"),
    )
}

/// The API's error for a daemon's error reply other than `io.qmgr.Failed`
/// (which carries the in-process call's own, see `client`): a policy's
/// bound, a method or a parameter the daemon does not know. Each gets the
/// nearest code and says what the daemon said.
pub(crate) fn error_reply(method: &str, name: &str, parameters: &Fields) -> Error {
    let text = |key: &str| parameters.get(key).and_then(Value::as_str).unwrap_or("?");
    match name {
        LIMIT_REACHED => Error::new(
            QM_E_SERVICE_UNAVAILABLE,
            format!(
                "the qmgr daemon refused {method}: its limit of {} {} is reached",
                parameters.get("limit").and_then(Value::as_u64).unwrap_or(0),
                text("what")
            ),
        ),
        varlink_errors::METHOD_NOT_FOUND | varlink_errors::METHOD_NOT_IMPLEMENTED => Error::new(
            QM_E_NOTIMPL,
            format!("the qmgr daemon does not implement {method} (an older qmgrd?)"),
        ),
        varlink_errors::INVALID_PARAMETER => Error::invalid_arg(format!(
            "the qmgr daemon refused the parameter '{}' of {method}",
            text("parameter")
        )),
        varlink_errors::PERMISSION_DENIED => Error::new(
            QM_E_ACCESSDENIED,
            format!("the qmgr daemon denied {method} to this user"),
        ),
        other => Error::new(
            QM_E_UNEXPECTED,
            format!("the qmgr daemon answered {method} with the error {other}"),
        ),
    }
}

/// An object of these members.
pub(crate) fn object(members: &[(&str, Value)]) -> Value {
    let mut map = Map::new();
    for (name, value) in members {
        map.insert((*name).to_string(), value.clone());
    }
    Value::Object(map)
}

/// `{"id": id}` and more members.
pub(crate) fn with_id(id: JobId, rest: &[(&str, Value)]) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), Value::String(id.to_string()));
    for (name, value) in rest {
        map.insert((*name).to_string(), value.clone());
    }
    Value::Object(map)
}

/// The `job` member of a reply.
pub(crate) fn decode_job(reply: &Map<String, Value>) -> Result<JobSnapshot> {
    let job = reply
        .get("job")
        .ok_or_else(|| unexpected("a reply without its job"))?;
    codec::decode_job(job, "job").map_err(unexpected)
}
