//! The guard's decisions, free of I/O: given one line from the client or the server, what to
//! forward, what to answer instead, and what to report. The pumps in `mod.rs` do the reading
//! and writing.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::GuardLimits;
use super::event::{ClientProblem, CutOffProblem, GuardEvent, HideReason, RefuseReason};
use super::wire::{
    self, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, Id, LineProblem, OWN_ID_PREFIX,
    PARSE_ERROR, Shape,
};
use crate::digest::Digest;
use crate::manifest::pins::{ItemKind, ToolPins, definition_digest};

/// Hidden entries reported one by one per result; the rest are counted in one event.
const HIDDEN_EVENTS_PER_RESULT: usize = 100;
/// Times a re-check starts over because the list changed while it ran.
const MAX_RECHECK_RESTARTS: u32 = 3;

/// The three pinned lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Tools,
    Prompts,
    Templates,
}

const SECTIONS: [Section; 3] = [Section::Tools, Section::Prompts, Section::Templates];

impl Section {
    fn index(self) -> usize {
        self as usize
    }
    fn kind(self) -> ItemKind {
        match self {
            Section::Tools => ItemKind::Tool,
            Section::Prompts => ItemKind::Prompt,
            Section::Templates => ItemKind::ResourceTemplate,
        }
    }
    fn list_method(self) -> &'static str {
        match self {
            Section::Tools => "tools/list",
            Section::Prompts => "prompts/list",
            Section::Templates => "resources/templates/list",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Section::Tools => "tools",
            Section::Prompts => "prompts",
            Section::Templates => "resourceTemplates",
        }
    }
    fn of_list(method: &str) -> Option<Section> {
        SECTIONS.into_iter().find(|s| s.list_method() == method)
    }
    fn of_call(method: &str) -> Option<Section> {
        match method {
            "tools/call" => Some(Section::Tools),
            "prompts/get" => Some(Section::Prompts),
            _ => None,
        }
    }
    fn of_list_changed(method: &str) -> Option<Section> {
        match method {
            "notifications/tools/list_changed" => Some(Section::Tools),
            "notifications/prompts/list_changed" => Some(Section::Prompts),
            "notifications/resources/list_changed" => Some(Section::Templates),
            _ => None,
        }
    }
}

/// What the guard knows of one pinned name's live definition since the list last changed.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Matches,
    Changed,
}

#[derive(Default)]
struct Live {
    /// Bumped by every `list_changed`.
    epoch: u64,
    /// Pinned names seen in a list since then (unpinned names are never kept: bounded by the pins).
    seen: HashMap<String, Verdict>,
}

/// What a response answers, known from its request.
#[derive(Debug, Clone, Copy)]
enum Answers {
    List(Section),
    /// `initialize` or `server/discover`: the result carries `instructions`.
    Handshake,
    Other,
}

struct Pending {
    answers: Answers,
    since: Instant,
    /// Which request under this id (ids are reused once answered): see
    /// [`Core::forget_request_from`].
    serial: u64,
}

/// A call held until a re-check says whether its name may pass.
struct Held {
    id: Id,
    line: Vec<u8>,
    section: Section,
    name: String,
}

/// The guard's own paginated list request in flight.
struct Recheck {
    id: Id,
    epoch: u64,
    pages: usize,
    restarts: u32,
    meta: Option<Value>,
    started: Instant,
}

/// The result of one line: forward it as it is, plus lines to send and events.
#[derive(Default)]
pub(crate) struct Outcome {
    pub forward: bool,
    pub to_server: Vec<Vec<u8>>,
    pub to_client: Vec<Vec<u8>>,
    pub events: Vec<GuardEvent>,
}

impl Outcome {
    fn forward() -> Outcome {
        Outcome {
            forward: true,
            ..Outcome::default()
        }
    }
}

pub(crate) struct Core {
    pins: [HashMap<String, Digest>; 3],
    instructions: Option<Digest>,
    live: [Live; 3],
    pending: HashMap<Id, Pending>,
    held: Vec<Held>,
    rechecks: [Option<Recheck>; 3],
    next_own: u64,
    /// The serial of the next request taken into `pending`.
    next_serial: u64,
    limits: GuardLimits,
    /// Set once the server is gone: nothing more is decided.
    pub(crate) closed: bool,
}

impl Core {
    pub(crate) fn new(pins: &ToolPins, limits: GuardLimits) -> Core {
        let index = |items: &[crate::manifest::pins::Pinned]| {
            items
                .iter()
                .map(|p| (p.name.clone(), p.digest.clone()))
                .collect::<HashMap<_, _>>()
        };
        Core {
            pins: [
                index(&pins.tools),
                index(&pins.prompts),
                index(&pins.resource_templates),
            ],
            instructions: pins.instructions.as_ref().map(|i| i.digest.clone()),
            live: Default::default(),
            pending: HashMap::new(),
            held: Vec::new(),
            rechecks: Default::default(),
            next_own: 1,
            next_serial: 1,
            limits,
            closed: false,
        }
    }

    /// A line from the client longer than the limit (already skipped).
    pub(crate) fn client_too_large(&mut self) -> Outcome {
        Core::too_large_refusal()
    }

    /// The refusal of a client line longer than the limit (its id cannot be read).
    pub(crate) fn too_large_refusal() -> Outcome {
        refuse_line(None, ClientProblem::Line(LineProblem::TooLarge))
    }

    /// The refusal of a client request when too many are already under way.
    pub(crate) fn busy_refusal(id: &Id) -> Outcome {
        refuse_line(Some(id), ClientProblem::TooManyPending)
    }

    /// One line from the client.
    pub(crate) fn client_line(&mut self, line: &[u8], now: Instant) -> Outcome {
        self.client_message(line, wire::envelope(line), now)
    }

    /// One line from the client, already read as a message (`wire::envelope(line)`), for a
    /// caller that looked at it first.
    pub(crate) fn client_message(
        &mut self,
        line: &[u8],
        envelope: Result<wire::Envelope<'_>, wire::LineProblem>,
        now: Instant,
    ) -> Outcome {
        if wire::first_byte(line).is_none() {
            return Outcome::default();
        }
        if self.closed {
            // Nothing more goes to the server; a request is answered at once rather than left
            // waiting (a call would otherwise wait for a re-check that cannot happen).
            let mut out = Outcome::default();
            if let Ok(e) = &envelope
                && let Shape::Request(id, _) = e.shape()
            {
                out.to_client.push(gone_line(
                    id,
                    "the guard has closed this session with the MCP server: it broke the \
                     protocol or exited (mcpsig guard)",
                ));
            }
            return out;
        }
        let envelope = match envelope {
            Ok(e) => e,
            Err(problem) => return refuse_line(None, ClientProblem::Line(problem)),
        };
        match envelope.shape() {
            Shape::Request(id, method) => {
                if id.is_reserved() {
                    return refuse_line(Some(id), ClientProblem::ReservedId);
                }
                if self.pending.contains_key(id) || self.held.iter().any(|h| &h.id == id) {
                    return refuse_line(Some(id), ClientProblem::DuplicateId);
                }
                if self.pending.len() + self.held.len() >= self.limits.max_pending {
                    return refuse_line(Some(id), ClientProblem::TooManyPending);
                }
                if let Some(section) = Section::of_call(method) {
                    return self.call(section, id, envelope.param_name(), line, now);
                }
                let answers = match method {
                    "initialize" | "server/discover" => Answers::Handshake,
                    m => Section::of_list(m).map_or(Answers::Other, Answers::List),
                };
                self.track(id.clone(), answers, now);
                Outcome::forward()
            }
            // A call without an id would run without an answer; it is never forwarded.
            Shape::Notification(method) if Section::of_call(method).is_some() => {
                refuse_line(None, ClientProblem::CallWithoutId)
            }
            Shape::Notification(method) => {
                if method == "notifications/cancelled"
                    && let Some(id) = envelope.params.as_ref().and_then(|p| p.request_id.as_ref())
                {
                    // The client ignores a late answer now; the guard drops it.
                    self.pending.remove(id);
                    self.held.retain(|h| &h.id != id);
                }
                Outcome::forward()
            }
            // Answers to the server's requests, and a client's complaint about a server line.
            Shape::Response(_) | Shape::UnidentifiedError => Outcome::forward(),
            Shape::Neither => refuse_line(None, ClientProblem::NotAMessage),
        }
    }

    /// A `tools/call` or `prompts/get`.
    fn call(
        &mut self,
        section: Section,
        id: &Id,
        name: Option<&str>,
        line: &[u8],
        now: Instant,
    ) -> Outcome {
        let Some(name) = name else {
            return refusal(section, id, "", RefuseReason::NoName);
        };
        if !self.pins[section.index()].contains_key(name) {
            return refusal(section, id, name, RefuseReason::Unpinned);
        }
        match self.live[section.index()].seen.get(name) {
            Some(Verdict::Matches) => {
                self.track(id.clone(), Answers::Other, now);
                Outcome::forward()
            }
            Some(Verdict::Changed) => refusal(section, id, name, RefuseReason::Changed),
            None => {
                self.held.push(Held {
                    id: id.clone(),
                    line: line.to_vec(),
                    section,
                    name: name.to_owned(),
                });
                let mut out = Outcome::default();
                if self.rechecks[section.index()].is_none() {
                    // The re-check speaks like the call it serves: the same `_meta` (protocol
                    // version and capabilities in the stateless revision).
                    let meta = crate::json::parse_value(line).ok().and_then(|mut v| {
                        v.get_mut("params")
                            .and_then(|p| p.get_mut("_meta"))
                            .map(Value::take)
                    });
                    out.events.push(GuardEvent::Rechecking {
                        kind: section.kind(),
                    });
                    out.to_server
                        .push(self.start_recheck(section, meta, 0, now));
                }
                out
            }
        }
    }

    fn own_id(&mut self) -> Id {
        let id = Id::Str(format!("{OWN_ID_PREFIX}{}", self.next_own));
        self.next_own += 1;
        id
    }

    fn start_recheck(
        &mut self,
        section: Section,
        meta: Option<Value>,
        restarts: u32,
        now: Instant,
    ) -> Vec<u8> {
        let id = self.own_id();
        let line = own_request(section, &id, None, meta.as_ref());
        self.rechecks[section.index()] = Some(Recheck {
            id,
            epoch: self.live[section.index()].epoch,
            pages: 1,
            restarts,
            meta,
            started: now,
        });
        line
    }

    /// One line from the server; `Err` when the server must be cut off.
    pub(crate) fn server_line(
        &mut self,
        line: &[u8],
        now: Instant,
    ) -> Result<Outcome, CutOffProblem> {
        self.server_answer_line(line, None, now).map(|(out, _)| out)
    }

    /// `server_line` for a message that came on the answer to the client's request
    /// `answering` (one HTTP exchange of a remote server): a response to any other request is
    /// dropped there, deciding nothing, because clients take any response on a request's
    /// answer for that request's own. Also says whether the message answered `answering`.
    pub(crate) fn server_answer_line(
        &mut self,
        line: &[u8],
        answering: Option<&Id>,
        now: Instant,
    ) -> Result<(Outcome, bool), CutOffProblem> {
        if wire::first_byte(line).is_none() {
            return Ok((Outcome::default(), false));
        }
        let envelope = wire::envelope(line).map_err(CutOffProblem::Line)?;
        let mut answered = false;
        if let (Shape::Response(id), Some(answering)) = (envelope.shape(), answering) {
            if id != answering {
                let event = GuardEvent::ForeignAnswer {
                    id: id.clone(),
                    answering: answering.clone(),
                };
                return Ok((
                    Outcome {
                        events: vec![event],
                        ..Outcome::default()
                    },
                    false,
                ));
            }
            answered = self.pending.contains_key(id);
        }
        self.server_envelope(line, envelope, now)
            .map(|out| (out, answered))
    }

    /// A request whose answer will not come through the guard (its HTTP exchange ended without
    /// one): no longer waited for, so it counts against no bound and its id is free again.
    pub(crate) fn forget_request(&mut self, id: &Id) {
        self.pending.remove(id);
    }

    /// Which request is waited for under `id` now, for [`Core::forget_request_from`].
    pub(crate) fn pending_serial(&self, id: &Id) -> Option<u64> {
        self.pending.get(id).map(|p| p.serial)
    }

    /// [`Core::forget_request`] for the exchange of request `serial` only. Its answer may have
    /// come another way (a stream the client keeps open) and freed the id, which the client
    /// may already have used again: an exchange that ends later must not forget that newer
    /// request, whose answer would then be dropped.
    pub(crate) fn forget_request_from(&mut self, id: &Id, serial: u64) {
        if self.pending_serial(id) == Some(serial) {
            self.pending.remove(id);
        }
    }

    fn track(&mut self, id: Id, answers: Answers, now: Instant) {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.pending.insert(
            id,
            Pending {
                answers,
                since: now,
                serial,
            },
        );
    }

    fn server_envelope(
        &mut self,
        line: &[u8],
        envelope: wire::Envelope<'_>,
        now: Instant,
    ) -> Result<Outcome, CutOffProblem> {
        Ok(match envelope.shape() {
            // Sampling, roots, elicitation, pings: the client's to answer.
            Shape::Request(..) => Outcome::forward(),
            Shape::Notification(method) => {
                let mut out = Outcome::forward();
                if let Some(section) = Section::of_list_changed(method) {
                    let live = &mut self.live[section.index()];
                    live.epoch += 1;
                    live.seen.clear();
                    out.events.push(GuardEvent::ListChanged {
                        kind: section.kind(),
                    });
                }
                out
            }
            Shape::Response(id) => {
                if let Some(section) = self.recheck_of(id) {
                    return Ok(self.recheck_page(section, line, envelope.error.is_some(), now));
                }
                match self.pending.remove(id) {
                    None => Outcome {
                        events: vec![GuardEvent::ResponseDropped { id: id.clone() }],
                        ..Outcome::default()
                    },
                    // An error answer carries no definitions (one with a result too is
                    // filtered as a result, or withheld).
                    Some(_) if envelope.error.is_some() && envelope.result.is_none() => {
                        Outcome::forward()
                    }
                    Some(Pending {
                        answers: Answers::List(section),
                        ..
                    }) => self.filter_list(section, id, line),
                    Some(Pending {
                        answers: Answers::Handshake,
                        ..
                    }) => self.filter_instructions(id, line),
                    Some(_) => Outcome::forward(),
                }
            }
            Shape::UnidentifiedError => Outcome::forward(),
            Shape::Neither => return Err(CutOffProblem::NotAMessage),
        })
    }

    fn recheck_of(&self, id: &Id) -> Option<Section> {
        SECTIONS.into_iter().find(|s| {
            self.rechecks[s.index()]
                .as_ref()
                .is_some_and(|r| &r.id == id)
        })
    }

    /// Records what one list page says about the pinned names; returns which entries to hide.
    fn judge_page(&mut self, section: Section, entries: &[Value]) -> Vec<(usize, GuardEvent)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in entries {
            if let Some(n) = e.get("name").and_then(Value::as_str) {
                *counts.entry(n).or_default() += 1;
            }
        }
        let pins = &self.pins[section.index()];
        let seen = &mut self.live[section.index()].seen;
        let mut hidden = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let kind = section.kind();
            let (Some(map), Some(name)) =
                (entry.as_object(), entry.get("name").and_then(Value::as_str))
            else {
                let event = GuardEvent::Hidden {
                    kind,
                    name: String::new(),
                    reason: HideReason::Malformed,
                    pinned: None,
                    live: None,
                };
                hidden.push((i, event));
                continue;
            };
            let pinned = pins.get(name);
            // Only a pinned definition is digested: an unpinned one is hidden whatever it
            // says, and digesting it would let a server that floods its list with unpinned
            // entries spend the proxy's one thread (every session's) on them.
            let mut live = None;
            let mut reason = match pinned {
                None => Some(HideReason::Unpinned),
                Some(_) if counts.get(name).copied().unwrap_or(0) > 1 => {
                    Some(HideReason::Duplicate)
                }
                Some(p) => {
                    live = definition_digest(map).ok();
                    (live.as_ref() != Some(p)).then_some(HideReason::Changed)
                }
            };
            if pinned.is_some() {
                // Within one list epoch a change sticks: a server cannot show the pinned
                // definition to one list request and another one to the next.
                if seen.get(name) == Some(&Verdict::Changed) {
                    reason = reason.or(Some(HideReason::Changed));
                } else {
                    let verdict = match reason {
                        None => Verdict::Matches,
                        Some(_) => Verdict::Changed,
                    };
                    seen.insert(name.to_owned(), verdict);
                }
            }
            if let Some(reason) = reason {
                let changed = reason == HideReason::Changed;
                hidden.push((
                    i,
                    GuardEvent::Hidden {
                        kind,
                        name: name.to_owned(),
                        reason,
                        pinned: if changed { pinned.cloned() } else { None },
                        live: if changed { live } else { None },
                    },
                ));
            }
        }
        hidden
    }

    /// A list result for the client: entries that do not match their pins are removed.
    fn filter_list(&mut self, section: Section, id: &Id, line: &[u8]) -> Outcome {
        let Some(mut message) = parse_result(line) else {
            return malformed_result(section.list_method(), section.kind(), id);
        };
        let Some(Value::Array(entries)) = message
            .get_mut("result")
            .and_then(|r| r.get_mut(section.key()))
        else {
            return malformed_result(section.list_method(), section.kind(), id);
        };
        let hidden = self.judge_page(section, entries);
        if hidden.is_empty() {
            return Outcome::forward();
        }
        let mut drop = vec![false; entries.len()];
        for (i, _) in &hidden {
            drop[*i] = true;
        }
        let mut i = 0;
        entries.retain(|_| {
            let keep = !drop[i];
            i += 1;
            keep
        });
        let mut out = Outcome::default();
        out.to_client.push(to_line(&message));
        out.events = hidden_events(section, hidden);
        out
    }

    /// An `initialize` or `server/discover` result: unpinned or changed `instructions` removed.
    fn filter_instructions(&mut self, id: &Id, line: &[u8]) -> Outcome {
        let Ok(mut message) = crate::json::parse_value(line) else {
            return malformed_result("initialize", ItemKind::Instructions, id);
        };
        let Some(result) = message.get_mut("result").and_then(Value::as_object_mut) else {
            return Outcome::forward();
        };
        let Some(text) = result.get("instructions") else {
            return Outcome::forward();
        };
        let live = crate::canonical::to_vec(text)
            .ok()
            .map(|b| Digest::sha256_of(&b));
        if live.is_some() && live == self.instructions {
            return Outcome::forward();
        }
        result.remove("instructions");
        Outcome {
            forward: false,
            to_server: Vec::new(),
            to_client: vec![to_line(&message)],
            events: vec![GuardEvent::Hidden {
                kind: ItemKind::Instructions,
                name: "instructions".into(),
                reason: if self.instructions.is_some() {
                    HideReason::Changed
                } else {
                    HideReason::Unpinned
                },
                pinned: self.instructions.clone(),
                live,
            }],
        }
    }

    /// One page answering the guard's own list request.
    fn recheck_page(
        &mut self,
        section: Section,
        line: &[u8],
        is_error: bool,
        now: Instant,
    ) -> Outcome {
        let Some(recheck) = self.rechecks[section.index()].take() else {
            return Outcome::default();
        };
        let mut message = match parse_result(line) {
            Some(m) if !is_error => m,
            _ => return self.release(section, Some(RefuseReason::RecheckFailed)),
        };
        let next = message
            .get("result")
            .and_then(|r| r.get("nextCursor"))
            .cloned();
        let Some(Value::Array(entries)) = message
            .get_mut("result")
            .and_then(|r| r.get_mut(section.key()))
        else {
            return self.release(section, Some(RefuseReason::RecheckFailed));
        };
        let entries = std::mem::take(entries);
        self.judge_page(section, &entries);
        if self.live[section.index()].epoch != recheck.epoch {
            // The list changed while it was read: start over, a few times at most.
            if recheck.restarts >= MAX_RECHECK_RESTARTS {
                return self.release(section, Some(RefuseReason::RecheckFailed));
            }
            let mut out = Outcome::default();
            out.to_server.push(self.start_recheck(
                section,
                recheck.meta,
                recheck.restarts + 1,
                now,
            ));
            return out;
        }
        match next {
            None | Some(Value::Null) => self.release(section, None),
            Some(Value::String(cursor)) if recheck.pages < self.limits.max_pages => {
                let id = self.own_id();
                let line = own_request(section, &id, Some(&cursor), recheck.meta.as_ref());
                self.rechecks[section.index()] = Some(Recheck {
                    id,
                    pages: recheck.pages + 1,
                    ..recheck
                });
                Outcome {
                    to_server: vec![line],
                    ..Outcome::default()
                }
            }
            Some(_) => self.release(section, Some(RefuseReason::RecheckFailed)),
        }
    }

    /// Decides the calls held for `section`: each is forwarded or refused on what is now
    /// known, or refused for `failure`.
    fn release(&mut self, section: Section, failure: Option<RefuseReason>) -> Outcome {
        self.rechecks[section.index()] = None;
        let mut out = Outcome::default();
        let (mine, rest): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.section == section);
        self.held = rest;
        let now = Instant::now();
        for h in mine {
            let reason = match (failure, self.live[section.index()].seen.get(&h.name)) {
                (Some(f), _) => Some(f),
                (None, Some(Verdict::Matches)) => None,
                (None, Some(Verdict::Changed)) => Some(RefuseReason::Changed),
                (None, None) => Some(RefuseReason::NotListed),
            };
            match reason {
                None => {
                    self.track(h.id, Answers::Other, now);
                    out.to_server.push(h.line);
                }
                Some(reason) => {
                    let r = refusal(section, &h.id, &h.name, reason);
                    out.to_client.extend(r.to_client);
                    out.events.extend(r.events);
                }
            }
        }
        out
    }

    /// Deadlines: a re-check not answered in time, requests past the request timeout.
    pub(crate) fn tick(&mut self, now: Instant) -> Outcome {
        let mut out = Outcome::default();
        if self.closed {
            return out;
        }
        for section in SECTIONS {
            let late = self.rechecks[section.index()]
                .as_ref()
                .is_some_and(|r| now.duration_since(r.started) >= self.limits.recheck_timeout);
            if late {
                let r = self.release(section, Some(RefuseReason::RecheckTimedOut));
                merge(&mut out, r);
            }
        }
        if let Some(timeout) = self.limits.request_timeout {
            let expired: Vec<Id> = self
                .pending
                .iter()
                .filter(|(_, p)| now.duration_since(p.since) >= timeout)
                .map(|(id, _)| id.clone())
                .collect();
            for id in expired {
                self.pending.remove(&id);
                out.to_client.push(wire::error_line(
                    Some(&id),
                    INTERNAL_ERROR,
                    "the MCP server did not answer in time (mcpsig guard)",
                    json!({"guard": "mcpsig", "reason": "timed-out"}),
                ));
                out.events.push(GuardEvent::RequestTimedOut { id });
            }
        }
        out
    }

    /// The server is gone: every request still waiting gets an error.
    pub(crate) fn server_gone(&mut self) -> Outcome {
        self.closed = true;
        let mut out = Outcome::default();
        let ids = self
            .pending
            .drain()
            .map(|(id, _)| id)
            .chain(std::mem::take(&mut self.held).into_iter().map(|h| h.id));
        for id in ids {
            out.to_client.push(gone_line(
                &id,
                "the MCP server exited before answering (mcpsig guard)",
            ));
        }
        self.rechecks = Default::default();
        out
    }

    /// Whether calls are held for a re-check: they still have to be written to the server, so
    /// its input must stay open.
    pub(crate) fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// How many requests wait for the server (for tests of the bound).
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.pending.len() + self.held.len()
    }
}

/// The error a request gets when the server is gone (or the guard closed the session).
fn gone_line(id: &Id, message: &str) -> Vec<u8> {
    wire::error_line(
        Some(id),
        INTERNAL_ERROR,
        message,
        json!({"guard": "mcpsig", "reason": "server-gone"}),
    )
}

fn merge(into: &mut Outcome, from: Outcome) {
    into.to_server.extend(from.to_server);
    into.to_client.extend(from.to_client);
    into.events.extend(from.events);
}

/// The whole message parsed strictly (duplicate keys refused), when it has a `result` object.
fn parse_result(line: &[u8]) -> Option<Value> {
    let message = crate::json::parse_value(line).ok()?;
    message.get("result")?.as_object()?;
    Some(message)
}

fn to_line(message: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    line
}

fn own_request(section: Section, id: &Id, cursor: Option<&str>, meta: Option<&Value>) -> Vec<u8> {
    let mut params = Map::new();
    if let Some(c) = cursor {
        params.insert("cursor".into(), c.into());
    }
    if let Some(m) = meta {
        params.insert("_meta".into(), m.clone());
    }
    let mut message = Map::new();
    message.insert("jsonrpc".into(), "2.0".into());
    message.insert("id".into(), serde_json::to_value(id).unwrap_or(Value::Null));
    message.insert("method".into(), section.list_method().into());
    if !params.is_empty() {
        message.insert("params".into(), Value::Object(params));
    }
    to_line(&Value::Object(message))
}

fn hidden_events(section: Section, hidden: Vec<(usize, GuardEvent)>) -> Vec<GuardEvent> {
    let total = hidden.len();
    let mut events: Vec<GuardEvent> = hidden
        .into_iter()
        .take(HIDDEN_EVENTS_PER_RESULT)
        .map(|(_, e)| e)
        .collect();
    if total > HIDDEN_EVENTS_PER_RESULT {
        events.push(GuardEvent::HiddenMore {
            kind: section.kind(),
            count: total - HIDDEN_EVENTS_PER_RESULT,
        });
    }
    events
}

fn malformed_result(method: &str, kind: ItemKind, id: &Id) -> Outcome {
    Outcome {
        to_client: vec![wire::error_line(
            Some(id),
            INTERNAL_ERROR,
            &format!(
                "the MCP server's `{method}` result was malformed and is withheld (mcpsig guard)"
            ),
            json!({"guard": "mcpsig", "reason": "malformed"}),
        )],
        events: vec![GuardEvent::ResultWithheld {
            kind,
            id: id.clone(),
        }],
        ..Outcome::default()
    }
}

fn refusal(section: Section, id: &Id, name: &str, reason: RefuseReason) -> Outcome {
    let kind = section.kind();
    let message = format!(
        "{kind} `{name}` refused by the mcpsig guard: {}",
        reason.explain()
    );
    Outcome {
        to_client: vec![wire::error_line(
            Some(id),
            INVALID_PARAMS,
            &message,
            json!({"guard": "mcpsig", "reason": reason.as_str(), "name": name}),
        )],
        events: vec![GuardEvent::Refused {
            kind,
            name: name.to_owned(),
            id: id.clone(),
            reason,
        }],
        ..Outcome::default()
    }
}

fn refuse_line(id: Option<&Id>, problem: ClientProblem) -> Outcome {
    let (code, message) = match problem {
        ClientProblem::Line(LineProblem::NotJson) => (PARSE_ERROR, "parse error"),
        ClientProblem::Line(LineProblem::Batch) => (
            INVALID_REQUEST,
            "JSON-RPC batches are not supported by the mcpsig guard",
        ),
        ClientProblem::Line(LineProblem::TooLarge) => (
            INVALID_REQUEST,
            "message longer than the mcpsig guard's limit",
        ),
        ClientProblem::Line(LineProblem::NotJsonRpc) | ClientProblem::NotAMessage => {
            (INVALID_REQUEST, "invalid JSON-RPC message")
        }
        ClientProblem::DuplicateId => (INVALID_REQUEST, "request id already in flight"),
        ClientProblem::CallWithoutId => (
            INVALID_REQUEST,
            "a call without an id is not forwarded by the mcpsig guard",
        ),
        ClientProblem::ReservedId => (
            INVALID_REQUEST,
            "request ids starting with `mcpsig-guard/` are reserved for the guard",
        ),
        ClientProblem::TooManyPending => (INTERNAL_ERROR, "too many requests in flight"),
    };
    Outcome {
        to_client: vec![wire::error_line(
            id,
            code,
            message,
            json!({"guard": "mcpsig", "reason": problem}),
        )],
        events: vec![GuardEvent::ClientRefused {
            problem,
            id: id.cloned(),
        }],
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::pins::{CaptureProfile, Pinned, TransportKind};

    fn tool(name: &str, description: &str) -> Value {
        json!({"name": name, "description": description, "inputSchema": {"type": "object"}})
    }

    fn core() -> Core {
        let pin = |v: Value| Pinned::new(v.as_object().cloned().unwrap_or_default()).unwrap();
        let pins = ToolPins {
            profile: CaptureProfile {
                transport: TransportKind::Stdio,
                protocol_version: "2025-11-25".into(),
                client_capabilities: Vec::new(),
                argv: vec!["server".into()],
                env_names: Vec::new(),
                url: None,
            },
            tools: vec![pin(tool("a", "A.")), pin(tool("b", "B."))],
            prompts: Vec::new(),
            resource_templates: Vec::new(),
            instructions: None,
        };
        let limits = GuardLimits {
            max_pending: 3,
            max_pages: 2,
            ..GuardLimits::default()
        };
        Core::new(&pins, limits)
    }

    fn line(v: Value) -> Vec<u8> {
        let mut l = serde_json::to_vec(&v).unwrap();
        l.push(b'\n');
        l
    }

    fn client(c: &mut Core, v: Value) -> Outcome {
        c.client_line(&line(v), Instant::now())
    }

    fn server(c: &mut Core, v: Value) -> Outcome {
        c.server_line(&line(v), Instant::now()).unwrap()
    }

    fn listed(out: &Outcome) -> Vec<String> {
        let v: Value = serde_json::from_slice(&out.to_client[0]).unwrap();
        v["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn call(id: u64, name: &str) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name}})
    }

    fn reason(out: &Outcome) -> String {
        let v: Value = serde_json::from_slice(&out.to_client[0]).unwrap();
        v["error"]["data"]["reason"].as_str().unwrap().to_owned()
    }

    #[test]
    fn a_change_sticks_until_the_list_changes_and_duplicates_hide() {
        let mut c = core();
        assert!(client(&mut c, json!({"id": 1, "method": "tools/list"})).forward);
        let out = server(
            &mut c,
            json!({"id": 1, "result": {"tools": [tool("a", "Poisoned."), tool("b", "B.")]}}),
        );
        assert_eq!(listed(&out), ["b"]);
        // The pinned definition shown again, unannounced: still hidden, calls still refused.
        client(&mut c, json!({"id": 2, "method": "tools/list"}));
        let out = server(
            &mut c,
            json!({"id": 2, "result": {"tools": [tool("a", "A."), tool("b", "B.")]}}),
        );
        assert_eq!(listed(&out), ["b"]);
        assert_eq!(reason(&client(&mut c, call(3, "a"))), "changed");
        // A new list is announced: forgotten, re-checked on the next call.
        server(
            &mut c,
            json!({"method": "notifications/tools/list_changed"}),
        );
        let out = client(&mut c, call(4, "a"));
        assert!(
            !out.forward && out.to_server.len() == 1,
            "held and re-checked"
        );
        let own: Value = serde_json::from_slice(&out.to_server[0]).unwrap();
        let out = server(
            &mut c,
            json!({"id": own["id"], "result": {"tools": [tool("a", "A."), tool("a", "A.")]}}),
        );
        assert_eq!(reason(&out), "changed", "a duplicate is never trusted");
        assert!(out.to_server.is_empty());
    }

    #[test]
    fn a_recheck_restarts_when_the_list_changes_and_is_bounded_in_pages() {
        let mut c = core();
        let out = client(&mut c, call(1, "a"));
        let first: Value = serde_json::from_slice(&out.to_server[0]).unwrap();
        server(
            &mut c,
            json!({"method": "notifications/tools/list_changed"}),
        );
        let out = server(
            &mut c,
            json!({"id": first["id"], "result": {"tools": [tool("a", "A.")], "nextCursor": "2"}}),
        );
        let again: Value = serde_json::from_slice(&out.to_server[0]).unwrap();
        assert!(
            again["params"].get("cursor").is_none(),
            "started over: {again}"
        );
        let out = server(
            &mut c,
            json!({"id": again["id"], "result": {"tools": [], "nextCursor": "2"}}),
        );
        let page2: Value = serde_json::from_slice(&out.to_server[0]).unwrap();
        assert_eq!(page2["params"]["cursor"], "2");
        // Past `max_pages` (2): refused, nothing forwarded.
        let out = server(
            &mut c,
            json!({"id": page2["id"], "result": {"tools": [tool("a", "A.")], "nextCursor": "3"}}),
        );
        assert_eq!(reason(&out), "recheck-failed");
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn an_answer_to_another_request_is_dropped_and_a_forgotten_request_frees_its_id() {
        let mut c = core();
        let list = |id: i64| line(json!({"id": id, "result": {"tools": [tool("a", "A.")]}}));
        client(&mut c, json!({"id": 2, "method": "tools/list"}));
        let (_, answered) = c
            .server_answer_line(&list(2), Some(&Id::Int(2)), Instant::now())
            .unwrap();
        assert!(answered);
        // A call in flight (the tool is known to match), then another list.
        assert!(client(&mut c, call(1, "a")).forward);
        client(&mut c, json!({"id": 3, "method": "tools/list"}));
        assert_eq!(c.in_flight(), 2);
        // On the answer to request 3, a response to request 1 carrying a list: dropped, and
        // request 1 still waits for its own answer.
        let evil = line(json!({"id": 1, "result": {"tools": [tool("evil", "")]}}));
        let (out, answered) = c
            .server_answer_line(&evil, Some(&Id::Int(3)), Instant::now())
            .unwrap();
        assert!(!out.forward && out.to_client.is_empty() && !answered);
        assert!(matches!(out.events[..], [GuardEvent::ForeignAnswer { .. }]));
        assert_eq!(c.in_flight(), 2);
        let (out, answered) = c
            .server_answer_line(&list(3), Some(&Id::Int(3)), Instant::now())
            .unwrap();
        assert!(answered && out.forward, "{:?}", out.events);
        // Request 1's exchange ended without its answer: forgotten, its id free again.
        c.forget_request(&Id::Int(1));
        assert_eq!(c.in_flight(), 0);
        assert!(client(&mut c, json!({"id": 1, "method": "ping"})).forward);
    }

    /// An exchange that ends after its request was answered another way forgets only its own
    /// request, not a newer one under the same id (whose answer would then be dropped).
    #[test]
    fn a_stale_exchange_does_not_forget_a_newer_request_with_its_id() {
        let mut c = core();
        assert!(client(&mut c, json!({"id": 7, "method": "ping"})).forward);
        let first = c.pending_serial(&Id::Int(7)).unwrap();
        // Its answer comes on another stream: the id is free, and the client uses it again.
        let answer = br#"{"jsonrpc":"2.0","id":7,"result":{}}"#;
        let (out, answered) = c.server_answer_line(answer, None, Instant::now()).unwrap();
        assert!(out.forward && !answered);
        assert!(client(&mut c, json!({"id": 7, "method": "ping"})).forward);
        let second = c.pending_serial(&Id::Int(7)).unwrap();
        assert_ne!(first, second);
        // The first exchange ends now: the newer request stays waited for.
        c.forget_request_from(&Id::Int(7), first);
        assert_eq!(c.pending_serial(&Id::Int(7)), Some(second));
        let (out, _) = c.server_answer_line(answer, None, Instant::now()).unwrap();
        assert!(out.forward, "{:?}", out.events);
        // Its own exchange would forget it.
        assert!(client(&mut c, json!({"id": 8, "method": "ping"})).forward);
        let third = c.pending_serial(&Id::Int(8)).unwrap();
        c.forget_request_from(&Id::Int(8), third);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn cancelled_requests_are_forgotten_and_late_answers_dropped() {
        let mut c = core();
        client(&mut c, json!({"id": 1, "method": "tools/list"}));
        client(&mut c, json!({"id": 2, "method": "ping"}));
        client(&mut c, call(3, "b"));
        assert_eq!(c.in_flight(), 3);
        assert_eq!(
            reason(&client(&mut c, json!({"id": 4, "method": "ping"}))),
            "too-many-pending"
        );
        let out = client(
            &mut c,
            json!({"method": "notifications/cancelled", "params": {"requestId": 1}}),
        );
        assert!(out.forward);
        client(
            &mut c,
            json!({"method": "notifications/cancelled", "params": {"requestId": 3}}),
        );
        assert_eq!(c.in_flight(), 1);
        // The unfiltered late answer to the cancelled list never reaches the client.
        let out = server(
            &mut c,
            json!({"id": 1, "result": {"tools": [tool("evil", "")]}}),
        );
        assert!(!out.forward && out.to_client.is_empty());
        assert!(matches!(
            out.events[..],
            [GuardEvent::ResponseDropped { .. }]
        ));
        let gone = c.server_gone();
        assert_eq!(gone.to_client.len(), 1);
        // After the end, nothing reaches the server; a request is answered at once.
        let after = client(&mut c, call(5, "a"));
        assert!(!after.forward && after.to_server.is_empty());
        assert_eq!(after.to_client.len(), 1);
        assert!(String::from_utf8_lossy(&after.to_client[0]).contains("server-gone"));
        let note = client(
            &mut c,
            json!({"method": "notifications/cancelled", "params": {"requestId": 5}}),
        );
        assert!(!note.forward && note.to_client.is_empty());
    }

    #[test]
    fn a_server_cannot_smuggle_a_list_past_the_filter() {
        let mut c = core();
        client(&mut c, json!({"id": 1, "method": "tools/list"}));
        // Another request under the same number written as a float is the same id.
        let out = c.client_line(
            br#"{"id":1.0,"method":"tools/call","params":{"name":"a"}}"#,
            Instant::now(),
        );
        assert_eq!(reason(&out), "duplicate-id");
        // A "request" that also carries the result is no message: the server is cut off.
        let smuggled = br#"{"id":1,"method":"x","result":{"tools":[{"name":"evil"}]}}"#;
        assert_eq!(
            c.server_line(smuggled, Instant::now()).err(),
            Some(CutOffProblem::NotAMessage)
        );
        // Result and error together: the result is filtered all the same.
        let both = json!({"id": 1, "error": {"code": 1, "message": "x"}, "result": {"tools": [tool("evil", ""), tool("b", "B.")]}});
        let out = server(&mut c, both);
        assert_eq!(listed(&out), ["b"]);
    }

    #[test]
    fn malformed_list_results_are_withheld() {
        let mut c = core();
        for (id, result) in [
            (1, json!({"tools": {"a": 1}})),
            (2, json!({})),
            (3, json!("tools")),
        ] {
            client(&mut c, json!({"id": id, "method": "tools/list"}));
            let out = server(&mut c, json!({"id": id, "result": result}));
            assert!(!out.forward);
            assert_eq!(reason(&out), "malformed");
        }
        client(&mut c, json!({"id": 4, "method": "tools/list"}));
        let dup = br#"{"id":4,"result":{"tools":[{"name":"b","description":"B.","inputSchema":{"type":"object"},"description":"X"}]}}"#;
        let out = c.server_line(dup, Instant::now()).unwrap();
        assert_eq!(reason(&out), "malformed", "duplicate keys in a definition");
        assert_eq!(
            c.server_line(br#"{"id":99,"method":3}"#, Instant::now())
                .err(),
            Some(CutOffProblem::Line(LineProblem::NotJsonRpc))
        );
    }
}
