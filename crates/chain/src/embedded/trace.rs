//! Execution traces of calls on the embedded chain: a revm [`Inspector`] that records what the
//! ERC-7562 validation rules look at — the call frames (with kind, caller, storage context, code
//! presence and value), notable opcodes (environment reads, `GAS` and what follows it, `BALANCE`,
//! `EXTCODE*`, creations, `SELFDESTRUCT`, unassigned opcodes), every storage and transient-storage
//! access, and every `KECCAK256` preimage (from which mapping slots are attributed to keys).
//!
//! The recorded [`ExecutionTrace`] is plain data; judging it is left to the caller (the bundler's
//! ERC-7562 checker).

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use revm::Inspector;
/// Opcode constants and names (revm's), for readers of [`OpcodeUse::opcode`].
pub use revm::bytecode::opcode;
use revm::context_interface::{ContextTr, CreateScheme, JournalTr};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_types::{InputsTr, Jumps, MemoryTr};
use revm::interpreter::{
    CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome, InstructionResult, Interpreter,
};

/// How a frame was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// `CALL` (or the transaction's top-level call).
    Call,
    /// `CALLCODE`.
    CallCode,
    /// `DELEGATECALL`.
    DelegateCall,
    /// `STATICCALL`.
    StaticCall,
    /// `CREATE` (or a creating transaction).
    Create,
    /// `CREATE2`.
    Create2,
}

impl FrameKind {
    /// Whether the frame is a contract creation.
    pub fn is_creation(self) -> bool {
        matches!(self, Self::Create | Self::Create2)
    }
}

/// One call or creation frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Index of the calling frame (`None` for the top-level frame).
    pub parent: Option<usize>,
    /// Call depth (0 = the transaction's own call).
    pub depth: usize,
    /// How it was entered.
    pub kind: FrameKind,
    /// `msg.sender` of the frame.
    pub caller: Address,
    /// The storage context (`address(this)`); for creations, the created address (zero when the
    /// creation failed before an address was assigned).
    pub address: Address,
    /// Whose code runs (differs from `address` for `DELEGATECALL`/`CALLCODE`).
    pub code_address: Address,
    /// Whether the code address had code when the frame was entered (creations: true).
    pub has_code: bool,
    /// Wei transferred into the frame.
    pub value: U256,
    /// Call data (creations: empty).
    pub input: Bytes,
    /// Whether the frame ended without reverting or halting.
    pub success: bool,
    /// Whether the frame ended by running out of gas (ERC-7562 OP-020).
    pub out_of_gas: bool,
    /// Hash of the code that ran (`KECCAK256_EMPTY` without code; zero for creations), for
    /// ERC-7562 COD-010.
    pub code_hash: B256,
}

impl Frame {
    /// The 4-byte selector of the call data, if it has one.
    pub fn selector(&self) -> Option<[u8; 4]> {
        self.input.get(..4).map(|s| [s[0], s[1], s[2], s[3]])
    }
}

/// Kinds of storage access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageOp {
    /// `SLOAD`.
    Load,
    /// `SSTORE`.
    Store,
    /// `TLOAD`.
    TransientLoad,
    /// `TSTORE`.
    TransientStore,
}

impl StorageOp {
    /// Whether the access writes.
    pub fn is_write(self) -> bool {
        matches!(self, Self::Store | Self::TransientStore)
    }
}

/// One storage access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageAccess {
    /// Frame index.
    pub frame: usize,
    /// Whose storage (the frame's storage context).
    pub address: Address,
    /// The slot.
    pub slot: U256,
    /// What was done.
    pub op: StorageOp,
}

/// One execution of an opcode the validation rules care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpcodeUse {
    /// Frame index.
    pub frame: usize,
    /// The opcode.
    pub opcode: u8,
    /// The next opcode executed in the same frame (recorded for `GAS` and `EXTCODESIZE`).
    pub next_opcode: Option<u8>,
    /// The address operand of `BALANCE` and `EXTCODE*`.
    pub operand: Option<Address>,
    /// For `EXTCODE*`: whether the operand had code.
    pub operand_has_code: Option<bool>,
}

/// What [`ValidationTracer`] recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionTrace {
    /// Frames in the order they were entered.
    pub frames: Vec<Frame>,
    /// Notable opcodes (see the module docs) in execution order.
    pub opcodes: Vec<OpcodeUse>,
    /// Storage and transient-storage accesses in execution order.
    pub storage: Vec<StorageAccess>,
    /// `KECCAK256` inputs, deduplicated, in first-seen order.
    pub keccak_preimages: Vec<Bytes>,
}

impl ExecutionTrace {
    /// The index of the frame that `frame` descends from at depth `depth` (itself if it is at
    /// that depth; `None` if it is shallower).
    pub fn ancestor_at(&self, mut frame: usize, depth: usize) -> Option<usize> {
        loop {
            let f = self.frames.get(frame)?;
            if f.depth == depth {
                return Some(frame);
            }
            frame = f.parent?;
        }
    }

    /// Preimages by their hash, for slot attribution.
    pub fn keccak_index(&self) -> std::collections::HashMap<B256, &Bytes> {
        self.keccak_preimages.iter().map(|p| (keccak256(p), p)).collect()
    }
}

/// Opcodes banned outright in ERC-4337 validation (ERC-7562 OP-011), beyond the creation rules;
/// unassigned opcodes included. The tracer records every one of them.
pub fn banned_in_validation(op: u8) -> bool {
    matches!(
        op,
        opcode::ORIGIN
            | opcode::GASPRICE
            | opcode::BLOCKHASH
            | opcode::COINBASE
            | opcode::TIMESTAMP
            | opcode::NUMBER
            | opcode::DIFFICULTY
            | opcode::GASLIMIT
            | opcode::BASEFEE
            | opcode::BLOBHASH
            | opcode::BLOBBASEFEE
            | opcode::INVALID
            | opcode::SELFDESTRUCT
    ) || opcode::OpCode::new(op).is_none()
}

/// Whether `op` is one the tracer records in [`ExecutionTrace::opcodes`]: the banned ones and those
/// the other validation rules look at.
fn is_notable(op: u8) -> bool {
    banned_in_validation(op)
        || matches!(
            op,
            opcode::CHAINID
                | opcode::GAS
                | opcode::BALANCE
                | opcode::SELFBALANCE
                | opcode::EXTCODESIZE
                | opcode::EXTCODECOPY
                | opcode::EXTCODEHASH
                | opcode::CREATE
                | opcode::CREATE2
        )
}

/// Whether a frame's result is one of revm's out-of-gas halts.
fn is_out_of_gas(r: InstructionResult) -> bool {
    matches!(
        r,
        InstructionResult::OutOfGas
            | InstructionResult::MemoryOOG
            | InstructionResult::MemoryLimitOOG
            | InstructionResult::PrecompileOOG
            | InstructionResult::InvalidOperandOOG
            | InstructionResult::ReentrancySentryOOG
    )
}

fn word_to_address(w: U256) -> Address {
    Address::from_word(B256::from(w))
}

/// A revm inspector recording an [`ExecutionTrace`]. Works with any context.
#[derive(Debug, Default)]
pub struct ValidationTracer {
    trace: ExecutionTrace,
    /// Open frames, innermost last.
    open: Vec<usize>,
    /// Per open frame: index in `opcodes` of a `GAS` awaiting its successor.
    pending_gas: Vec<Option<usize>>,
    /// The `EXTCODE*` use awaiting its result (filled in `step_end`).
    pending_ext: Option<usize>,
    seen_preimages: std::collections::HashSet<B256>,
}

impl ValidationTracer {
    /// A fresh tracer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The recorded trace.
    pub fn into_trace(self) -> ExecutionTrace {
        self.trace
    }

    fn current(&self) -> usize {
        self.open.last().copied().unwrap_or(0)
    }

    fn open_frame(&mut self, frame: Frame) {
        self.trace.frames.push(frame);
        self.open.push(self.trace.frames.len() - 1);
        self.pending_gas.push(None);
    }

    fn close_frame(&mut self, result: InstructionResult, created: Option<Address>) {
        if let Some(i) = self.open.pop() {
            self.pending_gas.pop();
            if let Some(f) = self.trace.frames.get_mut(i) {
                f.success = result.is_ok();
                f.out_of_gas = is_out_of_gas(result);
                if let Some(a) = created {
                    f.address = a;
                    f.code_address = a;
                }
            }
        }
    }

    fn new_frame(&self, kind: FrameKind, caller: Address, address: Address, code_address: Address) -> Frame {
        Frame {
            parent: self.open.last().copied(),
            depth: self.open.len(),
            kind,
            caller,
            address,
            code_address,
            has_code: true,
            value: U256::ZERO,
            input: Bytes::new(),
            success: false,
            out_of_gas: false,
            code_hash: B256::ZERO,
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for ValidationTracer {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        let op = interp.bytecode.opcode();
        let frame = self.current();
        if let Some(Some(gas_use)) = self.pending_gas.last_mut().map(Option::take)
            && let Some(u) = self.trace.opcodes.get_mut(gas_use)
        {
            u.next_opcode = Some(op);
        }
        let stack = interp.stack.data();
        let top = |n: usize| stack.len().checked_sub(n + 1).and_then(|i| stack.get(i)).copied();
        let this = interp.input.target_address();
        let storage_op = match op {
            opcode::SLOAD => Some(StorageOp::Load),
            opcode::SSTORE => Some(StorageOp::Store),
            opcode::TLOAD => Some(StorageOp::TransientLoad),
            opcode::TSTORE => Some(StorageOp::TransientStore),
            _ => None,
        };
        if let (Some(op), Some(slot)) = (storage_op, top(0)) {
            self.trace.storage.push(StorageAccess { frame, address: this, slot, op });
        }
        if op == opcode::KECCAK256
            && let (Some(offset), Some(size)) = (top(0), top(1))
            && let (Ok(offset), Ok(size)) = (usize::try_from(offset), usize::try_from(size))
            && size <= 4096
        {
            // Memory is zero-extended by the opcode itself: read what exists and pad.
            let have = interp.memory.size();
            let mut data = vec![0u8; size];
            if offset < have {
                let end = (offset + size).min(have);
                data[..end - offset].copy_from_slice(&interp.memory.slice(offset..end));
            }
            let data = Bytes::from(data);
            if self.seen_preimages.insert(keccak256(&data)) {
                self.trace.keccak_preimages.push(data);
            }
        }
        if is_notable(op) {
            let operand = match op {
                opcode::BALANCE | opcode::EXTCODESIZE | opcode::EXTCODECOPY | opcode::EXTCODEHASH => {
                    top(0).map(word_to_address)
                }
                _ => None,
            };
            self.trace.opcodes.push(OpcodeUse {
                frame,
                opcode: op,
                next_opcode: None,
                operand,
                operand_has_code: None,
            });
            let index = self.trace.opcodes.len() - 1;
            match op {
                opcode::GAS | opcode::EXTCODESIZE => {
                    if let Some(p) = self.pending_gas.last_mut() {
                        *p = Some(index);
                    }
                }
                _ => {}
            }
            if matches!(op, opcode::EXTCODESIZE | opcode::EXTCODECOPY | opcode::EXTCODEHASH) {
                self.pending_ext = Some(index);
            }
        }
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        let Some(index) = self.pending_ext.take() else { return };
        let Some(u) = self.trace.opcodes.get(index).copied() else { return };
        let has_code = match u.opcode {
            // The account is warm now: reading its code changes no gas accounting.
            opcode::EXTCODECOPY => {
                u.operand.and_then(|a| context.journal_mut().code(a).ok()).map(|c| !c.data.is_empty())
            }
            opcode::EXTCODESIZE => interp.stack.data().last().map(|size| !size.is_zero()),
            _ => interp.stack.data().last().map(|h| {
                let h = B256::from(*h);
                h != B256::ZERO && h != alloy::primitives::KECCAK256_EMPTY
            }),
        };
        if let Some(u) = self.trace.opcodes.get_mut(index) {
            u.operand_has_code = has_code;
        }
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        let kind = match inputs.scheme {
            CallScheme::Call => FrameKind::Call,
            CallScheme::CallCode => FrameKind::CallCode,
            CallScheme::DelegateCall => FrameKind::DelegateCall,
            CallScheme::StaticCall => FrameKind::StaticCall,
        };
        let mut f = self.new_frame(kind, inputs.caller, inputs.target_address, inputs.bytecode_address);
        f.has_code = !inputs.known_bytecode.1.is_empty();
        f.code_hash = if f.has_code { inputs.known_bytecode.0 } else { alloy::primitives::KECCAK256_EMPTY };
        f.value = inputs.transfer_value().unwrap_or_default();
        f.input = inputs.input.bytes(context);
        self.open_frame(f);
        None
    }

    fn call_end(&mut self, _context: &mut CTX, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.close_frame(*outcome.instruction_result(), None);
    }

    fn create(&mut self, _context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        let kind = match inputs.scheme() {
            CreateScheme::Create2 { .. } => FrameKind::Create2,
            _ => FrameKind::Create,
        };
        let mut f = self.new_frame(kind, inputs.caller(), Address::ZERO, Address::ZERO);
        f.value = inputs.value();
        self.open_frame(f);
        None
    }

    fn create_end(&mut self, _context: &mut CTX, _inputs: &CreateInputs, outcome: &mut CreateOutcome) {
        self.close_frame(*outcome.instruction_result(), outcome.address);
    }
}
