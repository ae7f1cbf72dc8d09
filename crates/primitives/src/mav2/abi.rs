//! `sol!` bindings of the MAv2 account, factory and module functions Keyward encodes (§2, §10, §12.3).

alloy::sol! {
    #![sol(all_derives)]

    /// One call of `executeBatch`.
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    /// An entry of the AllowlistModule's install / uninstall data (§10.2).
    struct AllowlistInput {
        address target;
        bool hasSelectorAllowlist;
        bool hasERC20SpendLimit;
        uint256 erc20SpendLimit;
        bytes4[] selectors;
    }

    /// SessionRulesModule: a spend limit (token 0 = native), per `period` seconds from `start`.
    struct SpendInput {
        address token;
        uint256 limit;
        uint48 period;
        uint48 start;
    }

    /// SessionRulesModule: a call limit (`maxCalls` 0 = none; `period` 0 = lifetime).
    struct CallInput {
        uint32 maxCalls;
        uint48 period;
        uint48 start;
    }

    /// SessionRulesModule: a condition on argument `argIndex` of `target.selector` calls.
    struct ConditionInput {
        address target;
        bytes4 selector;
        uint8 argIndex;
        uint8 op;
        bytes32[] values;
    }

    /// The modular account functions used by Keyward's encoders (§2.1).
    interface IModularAccount {
        function execute(address target, uint256 value, bytes data) external payable returns (bytes memory);
        function executeBatch(Call[] calls) external payable returns (bytes[] memory);
        function executeWithRuntimeValidation(bytes data, bytes authorization) external payable returns (bytes memory);
        function installValidation(bytes25 validationConfig, bytes4[] selectors, bytes installData, bytes[] hooks) external;
        function uninstallValidation(bytes24 validationFunction, bytes uninstallData, bytes[] hookUninstallData) external;
        function performCreate(uint256 value, bytes initCode, bool isCreate2, bytes32 salt) external payable returns (address);
        function upgradeToAndCall(address newImplementation, bytes data) external payable;
        function updateFallbackSignerData(address fallbackSigner, bool isDisabled) external;
        function initializeWithValidation(bytes25 validationConfig, bytes4[] selectors, bytes installData, bytes[] hooks) external;
        function initialize(address initialSigner) external;
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4);
    }

    /// The MAv2 AccountFactory (§12.3).
    interface IAccountFactory {
        function createSemiModularAccount(address owner, uint256 salt) external returns (address);
        function createAccount(address owner, uint256 salt, uint32 entityId) external returns (address);
        function getAddressSemiModular(address owner, uint256 salt) external view returns (address);
    }

    /// Account-callable setters of the MAv2 modules: a session must never reach them (§13 R18).
    interface IModuleSetters {
        function onInstall(bytes data) external;
        function onUninstall(bytes data) external;
        function transferSigner(uint32 entityId, address newSigner) external;
        function updateLimits(uint32 entityId, uint256 newLimit) external;
        function updateSpecialPaymaster(address paymaster, bool allowed) external;
        function setTimeRange(uint32 entityId, uint48 validUntil, uint48 validAfter) external;
        function updateAllowlist(uint32 entityId, AllowlistInput[] inputs) external;
        function deleteAllowlist(uint32 entityId, AllowlistInput[] inputs) external;
        function setAddressAllowlist(uint32 entityId, address target, bool allowed, bool hasSelectorAllowlist, bool hasERC20SpendLimit) external;
        function setSelectorAllowlist(uint32 entityId, address target, bytes4 selector, bool allowed) external;
        function updateLimits(uint32 entityId, address token, bool hasERC20SpendLimit, uint256 newLimit) external;
    }
}

/// `executeUserOp` selector: `userOp.callData = 0x8dd7712f ‖ innerCall` makes the account run the
/// validation's execution hooks (§5.6).
pub const EXECUTE_USER_OP_SELECTOR: [u8; 4] = [0x8d, 0xd7, 0x71, 0x2f];

/// `installExecution` selector of the account ABI (`0x001a63e9`).
pub const INSTALL_EXECUTION_SELECTOR: [u8; 4] = [0x00, 0x1a, 0x63, 0xe9];

/// `uninstallExecution` selector of the account ABI (`0x93b1dc61`).
pub const UNINSTALL_EXECUTION_SELECTOR: [u8; 4] = [0x93, 0xb1, 0xdc, 0x61];

/// `execute(target, value, data)` calldata.
pub fn encode_execute(
    target: alloy::primitives::Address,
    value: alloy::primitives::U256,
    data: alloy::primitives::Bytes,
) -> alloy::primitives::Bytes {
    use alloy::sol_types::SolCall;
    IModularAccount::executeCall { target, value, data }.abi_encode().into()
}

/// `executeBatch(calls)` calldata.
pub fn encode_execute_batch(calls: Vec<Call>) -> alloy::primitives::Bytes {
    use alloy::sol_types::SolCall;
    IModularAccount::executeBatchCall { calls }.abi_encode().into()
}

/// `userOp.callData` for an account call: `0x8dd7712f ‖ inner` when the validation has execution
/// hooks (§3.3, §5.6), else `inner` unchanged.
pub fn user_op_call_data(inner: &[u8], has_execution_hooks: bool) -> alloy::primitives::Bytes {
    if has_execution_hooks {
        [&EXECUTE_USER_OP_SELECTOR[..], inner].concat().into()
    } else {
        alloy::primitives::Bytes::copy_from_slice(inner)
    }
}
