//! Shared plumbing for librdkafka admin calls that rdkafka 0.38 does not
//! wrap (ListConsumerGroupOffsets, DescribeTopics, ListOffsets), called
//! through its raw bindings: ownership of librdkafka objects, one result
//! queue per call, and turning librdkafka errors into [`Error`]s.

use std::ffi::{CStr, c_char};
use std::marker::PhantomData;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::bindings as rd;
use rdkafka::client::Client;

use crate::error::{Error, Result};

/// A librdkafka object freed with `destroy` when dropped.
pub(super) struct Owned<T>(*mut T, unsafe extern "C" fn(*mut T));

impl<T> Owned<T> {
    pub(super) fn new(ptr: *mut T, destroy: unsafe extern "C" fn(*mut T)) -> Result<Self> {
        if ptr.is_null() {
            return Err(Error::Kafka("librdkafka returned no object".into()));
        }
        Ok(Self(ptr, destroy))
    }

    pub(super) fn ptr(&self) -> *mut T {
        self.0
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `new` only accepts non-NULL pointers, and each guard is
        // the only owner of its pointer.
        unsafe { (self.1)(self.0) }
    }
}

/// One admin request of `client`: its options (with the request timeout)
/// and the queue its result event arrives on. A private queue per call
/// lets concurrent reconciles share one client without seeing each
/// other's results.
pub(super) struct AdminCall<'client> {
    queue: Owned<rd::rd_kafka_queue_t>,
    options: Owned<rd::rd_kafka_AdminOptions_t>,
    timeout_ms: i32,
    /// The queue and options belong to the client's handle and must not
    /// outlive it.
    _client: PhantomData<&'client ()>,
}

impl<'client> AdminCall<'client> {
    pub(super) fn new<C: ClientContext>(
        client: &'client Client<C>,
        operation: rd::rd_kafka_admin_op_t,
        timeout: Duration,
    ) -> Result<Self> {
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let rk = client.native_ptr();
        // SAFETY: `rk` is the live handle of `client`, which the returned
        // value borrows; both objects are checked for NULL by `Owned::new`
        // and destroyed once by it; `errstr` outlives the call that writes
        // into it, and librdkafka NUL-terminates what it writes.
        unsafe {
            let queue = Owned::new(rd::rd_kafka_queue_new(rk), rd::rd_kafka_queue_destroy)?;
            let options = Owned::new(
                rd::rd_kafka_AdminOptions_new(rk, operation),
                rd::rd_kafka_AdminOptions_destroy,
            )?;
            let mut errstr = [0 as c_char; 256];
            if rd::rd_kafka_AdminOptions_set_request_timeout(
                options.ptr(),
                timeout_ms,
                errstr.as_mut_ptr(),
                errstr.len(),
            ) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                return Err(Error::Kafka(format!(
                    "cannot set the admin request timeout: {}",
                    text(errstr.as_ptr())
                )));
            }
            Ok(Self {
                queue,
                options,
                timeout_ms,
                _client: PhantomData,
            })
        }
    }

    pub(super) fn options(&self) -> *mut rd::rd_kafka_AdminOptions_t {
        self.options.ptr()
    }

    pub(super) fn queue(&self) -> *mut rd::rd_kafka_queue_t {
        self.queue.ptr()
    }

    /// Waits for the result event of the request and fails with the
    /// request-level error, if any; `what` names what is read, for errors
    /// ("cannot read {what}: …").
    pub(super) fn result(&self, what: &str) -> Result<Owned<rd::rd_kafka_event_t>> {
        // librdkafka enforces the request timeout itself; the margin only
        // guards against waiting forever if it did not.
        // SAFETY: the queue is live (owned by `self`); the event is owned by
        // the returned guard, and the error string it points to is read
        // before that guard can be dropped.
        unsafe {
            let event = Owned::new(
                rd::rd_kafka_queue_poll(self.queue.ptr(), self.timeout_ms.saturating_add(1000)),
                rd::rd_kafka_event_destroy,
            )
            .map_err(|_| Error::Kafka(format!("no {what} in time")))?;
            if rd::rd_kafka_event_error(event.ptr())
                != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                return Err(Error::Kafka(format!(
                    "cannot read {what}: {}",
                    text(rd::rd_kafka_event_error_string(event.ptr()))
                )));
            }
            Ok(event)
        }
    }
}

/// Sets the isolation level of ListOffsets requests.
pub(super) fn set_isolation_level(
    call: &AdminCall<'_>,
    level: rd::rd_kafka_IsolationLevel_t,
) -> Result<()> {
    // SAFETY: the options are live (owned by `call`); a returned error
    // object is owned by the guard, and its text is copied before the guard
    // frees it.
    unsafe {
        let error = rd::rd_kafka_AdminOptions_set_isolation_level(call.options(), level);
        if error.is_null() {
            return Ok(());
        }
        let error = Owned::new(error, rd::rd_kafka_error_destroy)?;
        Err(Error::Kafka(format!(
            "cannot set the isolation level: {}",
            text(rd::rd_kafka_error_string(error.ptr()))
        )))
    }
}

/// # Safety
/// `s` is NULL or a NUL-terminated string that outlives the call.
pub(super) unsafe fn text(s: *const c_char) -> String {
    if s.is_null() {
        return "unknown error".into();
    }
    // SAFETY: see the function's contract.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// The `count` pointers at `items` as a slice; empty for NULL.
///
/// # Safety
/// `items` is NULL or points to `count` pointers that stay valid (and
/// unchanged) for `'a`.
pub(super) unsafe fn c_array<'a, T>(items: *mut *const T, count: usize) -> &'a [*const T] {
    if items.is_null() || count == 0 {
        return &[];
    }
    // SAFETY: see the function's contract.
    unsafe { std::slice::from_raw_parts(items, count) }
}
