// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice ECDSA verification over P-256 (secp256r1): through the RIP-7212 / EIP-7951 precompile at
///         0x100 where the chain has it, in Solidity otherwise (Jacobian coordinates, Shamir's trick
///         for u1·G + u2·Q, the inverse of s by the modexp precompile). Only low-s signatures are
///         accepted, so a signature cannot be made into a second valid one.
library P256 {
    uint256 internal constant P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF;
    uint256 internal constant B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B;
    uint256 internal constant N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    uint256 internal constant GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296;
    uint256 internal constant GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5;
    address internal constant PRECOMPILE = address(0x100);

    /// Whether (r, s) signs digest `h` for public key (x, y).
    function verify(bytes32 h, uint256 r, uint256 s, uint256 x, uint256 y) internal view returns (bool) {
        if (r == 0 || r >= N || s == 0 || s > N / 2) return false;
        if (!onCurve(x, y)) return false;
        (bool ok, bytes memory out) = PRECOMPILE.staticcall(abi.encode(h, r, s, x, y));
        // The precompile answers 1 for a valid signature and nothing otherwise; a chain without it
        // answers nothing too: the Solidity verifier then decides.
        if (ok && out.length == 32 && abi.decode(out, (uint256)) == 1) return true;
        return verifyInSolidity(h, r, s, x, y);
    }

    /// The Solidity verifier alone (inputs already range-checked by [`verify`]).
    function verifyInSolidity(bytes32 h, uint256 r, uint256 s, uint256 x, uint256 y) internal view returns (bool) {
        uint256 w = _inverseModN(s);
        uint256 u1 = mulmod(uint256(h) % N, w, N);
        uint256 u2 = mulmod(r, w, N);
        (uint256 rx, uint256 ry, uint256 rz) = _shamir(u1, u2, x, y);
        if (rz == 0) return false;
        uint256 zInv = _inverseModP(rz);
        uint256 ax = mulmod(rx, mulmod(zInv, zInv, P), P);
        ry; // the y coordinate is not needed
        return ax % N == r;
    }

    /// Whether (x, y) is a point of the curve (y² = x³ − 3x + b), not the point at infinity.
    function onCurve(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= P || y >= P || (x == 0 && y == 0)) return false;
        uint256 lhs = mulmod(y, y, P);
        uint256 rhs = addmod(addmod(mulmod(mulmod(x, x, P), x, P), P - mulmod(3, x, P), P), B, P);
        return lhs == rhs;
    }

    /// u1·G + u2·Q in Jacobian coordinates.
    function _shamir(uint256 u1, uint256 u2, uint256 qx, uint256 qy)
        private
        pure
        returns (uint256 x, uint256 y, uint256 z)
    {
        uint256[3] memory sum = [GX, GY, uint256(1)];
        _addTo(sum, qx, qy, 1);
        uint256[3] memory acc;
        for (uint256 i = 256; i > 0; --i) {
            _doubleIn(acc);
            uint256 b1 = (u1 >> (i - 1)) & 1;
            uint256 b2 = (u2 >> (i - 1)) & 1;
            if (b1 == 1 && b2 == 1) _addTo(acc, sum[0], sum[1], sum[2]);
            else if (b1 == 1) _addTo(acc, GX, GY, 1);
            else if (b2 == 1) _addTo(acc, qx, qy, 1);
        }
        return (acc[0], acc[1], acc[2]);
    }

    /// p ← 2·p for a = −3 (z = 0 is the point at infinity).
    function _doubleIn(uint256[3] memory p) private pure {
        uint256 x = p[0];
        uint256 y = p[1];
        uint256 z = p[2];
        if (z == 0 || y == 0) {
            (p[0], p[1], p[2]) = (0, 0, 0);
            return;
        }
        uint256 delta = mulmod(z, z, P);
        uint256 gamma = mulmod(y, y, P);
        uint256 beta = mulmod(x, gamma, P);
        uint256 alpha = mulmod(3, mulmod(addmod(x, P - delta, P), addmod(x, delta, P), P), P);
        uint256 x3 = addmod(mulmod(alpha, alpha, P), P - mulmod(8, beta, P), P);
        uint256 yz = addmod(y, z, P);
        p[2] = addmod(mulmod(yz, yz, P), P - addmod(gamma, delta, P), P);
        p[1] = addmod(
            mulmod(alpha, addmod(mulmod(4, beta, P), P - x3, P), P), P - mulmod(8, mulmod(gamma, gamma, P), P), P
        );
        p[0] = x3;
    }

    /// p ← p + (x2, y2, z2).
    function _addTo(uint256[3] memory p, uint256 x2, uint256 y2, uint256 z2) private pure {
        if (z2 == 0) return;
        if (p[2] == 0) {
            (p[0], p[1], p[2]) = (x2, y2, z2);
            return;
        }
        // u1, u2, s1, s2 of the addition formula, in memory to spare the stack.
        uint256[4] memory t;
        {
            uint256 z1z1 = mulmod(p[2], p[2], P);
            uint256 z2z2 = mulmod(z2, z2, P);
            t[0] = mulmod(p[0], z2z2, P);
            t[1] = mulmod(x2, z1z1, P);
            t[2] = mulmod(p[1], mulmod(z2, z2z2, P), P);
            t[3] = mulmod(y2, mulmod(p[2], z1z1, P), P);
        }
        uint256 h = addmod(t[1], P - t[0], P);
        uint256 r = addmod(t[3], P - t[2], P);
        if (h == 0) {
            if (r == 0) _doubleIn(p);
            else (p[0], p[1], p[2]) = (0, 0, 0);
            return;
        }
        uint256 hh = mulmod(h, h, P);
        uint256 hhh = mulmod(h, hh, P);
        uint256 v = mulmod(t[0], hh, P);
        uint256 x3 = addmod(addmod(mulmod(r, r, P), P - hhh, P), P - mulmod(2, v, P), P);
        p[1] = addmod(mulmod(r, addmod(v, P - x3, P), P), P - mulmod(t[2], hhh, P), P);
        p[2] = mulmod(h, mulmod(p[2], z2, P), P);
        p[0] = x3;
    }

    function _inverseModN(uint256 a) private view returns (uint256) {
        return _modexp(a, N - 2, N);
    }

    function _inverseModP(uint256 a) private view returns (uint256) {
        return _modexp(a, P - 2, P);
    }

    /// base^e mod m by the modexp precompile (0x05).
    function _modexp(uint256 base, uint256 e, uint256 m) private view returns (uint256 result) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0x20)
            mstore(add(p, 0x20), 0x20)
            mstore(add(p, 0x40), 0x20)
            mstore(add(p, 0x60), base)
            mstore(add(p, 0x80), e)
            mstore(add(p, 0xa0), m)
            if iszero(staticcall(gas(), 0x05, p, 0xc0, p, 0x20)) { revert(0, 0) }
            result := mload(p)
        }
    }
}
