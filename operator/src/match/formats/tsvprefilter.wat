;; Zeek TSV prefilter (issue 15, docs/adr/2026-12-07-wasm-tsv-prefilter.md). Source of truth:
;; `npm run generate` assembles it into tsvprefilter.wasm.ts (base64), which CI checks for
;; staleness. tsvprefilter.ts is its only caller and documents the memory layout.
;;
;; `scan` walks the Zeek TSV records of the input copied into memory and keeps only the lines
;; that MAY hit or be rejected: a line is flagged when an IPv4 address of an address or name
;; column has its bit set in the network bitmap, when a label-aligned suffix of a name passes
;; the domain table's blocked filter, or when anything is unusual (IPv6 or other non-IPv4 text
;; in an address column, a digit-led name that is no IPv4 address, a name starting with ':' or
;; '[', too few columns, a line over 64 KiB). Flagged lines are then parsed again by the
;; JavaScript path (zeek.ts), which decides. Lines starting with '#', '{' or a newline stop the
;; walk: the caller handles them (a header can change the columns).
;; Every input range ends with a newline and is followed by 16 readable bytes.
(module
  (memory (export "memory") 1)
  (global $bitmap (mut i32) (i32.const 0))
  (global $bitShift (mut i32) (i32.const 0))
  (global $filter (mut i32) (i32.const 0))
  (global $blockShift (mut i32) (i32.const 0))
  (global $roles (mut i32) (i32.const 0))
  (global $last (mut i32) (i32.const 0))
  (global $sep (mut i32) (i32.const 9))
  (global $setSep (mut i32) (i32.const 44))
  (global $out (mut i32) (i32.const 0))
  (global $cap (mut i32) (i32.const 0))
  ;; Results of the last `scan`: lines walked (flagged or not) and lines flagged.
  (global $lines (export "lines") (mut i32) (i32.const 0))
  (global $flagged (export "flagged") (mut i32) (i32.const 0))
  ;; The address the last `ipv4` call parsed.
  (global $addr (mut i32) (i32.const 0))

  ;; Where the tables live (byte addresses) and the log's separators.
  (func (export "configure")
    (param $bitmap i32) (param $bitShift i32) (param $filter i32) (param $blockShift i32)
    (param $roles i32) (param $last i32) (param $sep i32) (param $setSep i32)
    (global.set $bitmap (local.get $bitmap))
    (global.set $bitShift (local.get $bitShift))
    (global.set $filter (local.get $filter))
    (global.set $blockShift (local.get $blockShift))
    (global.set $roles (local.get $roles))
    (global.set $last (local.get $last))
    (global.set $sep (local.get $sep))
    (global.set $setSep (local.get $setSep)))

  ;; The first separator or newline at or after $p, sixteen bytes per step.
  (func $fieldEnd (param $p i32) (result i32)
    (local $v v128) (local $m i32)
    (loop $next
      (local.set $v (v128.load (local.get $p)))
      (local.set $m (i8x16.bitmask (v128.or
        (i8x16.eq (local.get $v) (i8x16.splat (global.get $sep)))
        (i8x16.eq (local.get $v) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))))
      (if (i32.eqz (local.get $m))
        (then (local.set $p (i32.add (local.get $p) (i32.const 16))) (br $next))))
    (i32.add (local.get $p) (i32.ctz (local.get $m))))

  ;; The first newline at or after $p.
  (func $lineEnd (param $p i32) (result i32)
    (local $m i32)
    (loop $next
      (local.set $m (i8x16.bitmask (i8x16.eq (v128.load (local.get $p))
        (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))))
      (if (i32.eqz (local.get $m))
        (then (local.set $p (i32.add (local.get $p) (i32.const 16))) (br $next))))
    (i32.add (local.get $p) (i32.ctz (local.get $m))))

  ;; The end of the list element at $p: the next separator, set separator or newline.
  (func $elementEnd (param $p i32) (result i32)
    (local $c i32)
    (block $done
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.or (i32.eq (local.get $c) (global.get $sep))
          (i32.or (i32.eq (local.get $c) (global.get $setSep)) (i32.eq (local.get $c) (i32.const 10)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; A strict dotted quad (no leading zeros) at $p ending at a separator, $stop or newline:
  ;; returns that end and sets $addr, or -1 (zeek.ts ipv4Field, the same rules).
  (func $ipv4 (param $p i32) (param $stop i32) (result i32)
    (local $c i32) (local $d i32) (local $a i32) (local $octet i32) (local $digits i32) (local $dots i32)
    (loop $next
      (local.set $c (i32.load8_u (local.get $p)))
      (local.set $d (i32.sub (local.get $c) (i32.const 48)))
      (if (i32.lt_u (local.get $d) (i32.const 10))
        (then
          (if (i32.and (i32.eq (local.get $digits) (i32.const 1)) (i32.eqz (local.get $octet)))
            (then (return (i32.const -1))))
          (local.set $octet (i32.add (i32.mul (local.get $octet) (i32.const 10)) (local.get $d)))
          (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
          (if (i32.or (i32.gt_u (local.get $digits) (i32.const 3)) (i32.gt_u (local.get $octet) (i32.const 255)))
            (then (return (i32.const -1)))))
        (else
          (if (i32.eq (local.get $c) (i32.const 46))
            (then
              (if (i32.or (i32.eqz (local.get $digits)) (i32.eq (local.get $dots) (i32.const 3)))
                (then (return (i32.const -1))))
              (local.set $a (i32.or (i32.shl (local.get $a) (i32.const 8)) (local.get $octet)))
              (local.set $octet (i32.const 0))
              (local.set $digits (i32.const 0))
              (local.set $dots (i32.add (local.get $dots) (i32.const 1))))
            (else
              (if (i32.or (i32.ne (local.get $dots) (i32.const 3))
                    (i32.or (i32.eqz (local.get $digits))
                      (i32.eqz (i32.or (i32.eq (local.get $c) (global.get $sep))
                        (i32.or (i32.eq (local.get $c) (local.get $stop)) (i32.eq (local.get $c) (i32.const 10)))))))
                (then (return (i32.const -1))))
              (global.set $addr (i32.or (i32.shl (local.get $a) (i32.const 8)) (local.get $octet)))
              (return (local.get $p))))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $next))
    (i32.const -1))

  ;; 1 when the network bitmap has the bit of $a (some listed network may hold it).
  (func $mayHoldV4 (param $a i32) (result i32)
    (local $b i32)
    (local.set $b (i32.shr_u (local.get $a) (global.get $bitShift)))
    (i32.and (i32.shr_u (i32.load8_u (i32.add (global.get $bitmap) (i32.shr_u (local.get $b) (i32.const 3))))
      (i32.and (local.get $b) (i32.const 7))) (i32.const 1)))

  ;; bytetable.ts hashStep.
  (func $step (param $h i32) (param $w i32) (result i32)
    (local $x i32)
    (local.set $x (i32.mul (i32.xor (local.get $h) (local.get $w)) (i32.const 0x9e3779b1)))
    (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 15))))

  ;; $h stepped with the 1-3 bytes [$a, $b), case-folded (bytetable.ts partialWord); $h when empty.
  (func $partial (param $h i32) (param $a i32) (param $b i32) (result i32)
    (local $bits i32)
    (if (i32.eq (local.get $a) (local.get $b)) (then (return (local.get $h))))
    (local.set $bits (i32.shl (i32.sub (local.get $b) (local.get $a)) (i32.const 3)))
    (call $step (local.get $h)
      (i32.or
        (i32.and (i32.load (local.get $a)) (i32.sub (i32.shl (i32.const 1) (local.get $bits)) (i32.const 1)))
        (i32.shr_u (i32.const 0x20202020) (i32.sub (i32.const 32) (local.get $bits))))))

  ;; 1 when the domain filter may hold the key of unfinished hash $h (bytetable.ts finish + mayHold).
  (func $mayHold (param $h i32) (result i32)
    (local $g i32) (local $base i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x7feb352d)))
    (local.set $h (i32.or (i32.shr_u (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 15))) (i32.const 2)) (i32.const 1)))
    (local.set $base (i32.add (global.get $filter) (i32.shl (i32.shr_u (local.get $h) (global.get $blockShift)) (i32.const 6))))
    (local.set $g (i32.mul (local.get $h) (i32.const 0x9e3779b1)))
    (i32.and
      (i32.ne (i32.const 0) (i32.and
        (i32.load (i32.add (local.get $base) (i32.shl (i32.shr_u (local.get $g) (i32.const 28)) (i32.const 2))))
        (i32.shl (i32.const 1) (i32.shr_u (local.get $g) (i32.const 23)))))
      (i32.ne (i32.const 0) (i32.and
        (i32.load (i32.add (local.get $base) (i32.shl (i32.and (i32.shr_u (local.get $g) (i32.const 19)) (i32.const 15)) (i32.const 2))))
        (i32.shl (i32.const 1) (i32.shr_u (local.get $g) (i32.const 14)))))))

  ;; 1 when the name [$s, $e) or a label-aligned suffix of it may be a listed domain: the hash
  ;; runs right to left over words right-aligned at the end, so each suffix is the running hash
  ;; plus at most one partial word (suffixtable.ts). One trailing dot is ignored.
  (func $domain (param $s i32) (param $e i32) (result i32)
    (local $h i32) (local $p i32) (local $i i32)
    (if (i32.and (i32.gt_u (local.get $e) (local.get $s)) (i32.eq (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 46)))
      (then (local.set $e (i32.sub (local.get $e) (i32.const 1)))))
    (local.set $h (i32.const 0x811c9dc5))
    (local.set $p (local.get $e))
    (local.set $i (i32.sub (local.get $e) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.lt_s (local.get $i) (local.get $s)))
        (if (i32.eq (i32.load8_u (local.get $i)) (i32.const 46))
          (then (if (call $mayHold (call $partial (local.get $h) (i32.add (local.get $i) (i32.const 1)) (local.get $p)))
            (then (return (i32.const 1))))))
        (if (i32.eq (i32.sub (local.get $p) (local.get $i)) (i32.const 4))
          (then
            (local.set $h (call $step (local.get $h) (i32.or (i32.load (local.get $i)) (i32.const 0x20202020))))
            (local.set $p (local.get $i))))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $next)))
    (call $mayHold (call $partial (local.get $h) (local.get $s) (local.get $p))))

  ;; 1 when the host field or element [$s, $e) (non-empty) may hit, or is unusual.
  (func $host (param $s i32) (param $e i32) (param $stop i32) (result i32)
    (local $c i32)
    (local.set $c (i32.load8_u (local.get $s)))
    (if (i32.or (i32.eq (local.get $c) (i32.const 58)) (i32.eq (local.get $c) (i32.const 91)))
      (then (return (i32.const 1))))
    (if (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))
      (then
        (if (i32.eq (call $ipv4 (local.get $s) (local.get $stop)) (local.get $e))
          (then (return (call $mayHoldV4 (global.get $addr)))))
        (return (i32.const 1))))
    (call $domain (local.get $s) (local.get $e)))

  ;; A set or vector of addresses and names at $fs: returns its end; bit 31 set when it may hit.
  (func $list (param $fs i32) (result i32)
    (local $s i32) (local $e i32) (local $hit i32) (local $c i32)
    (if (i32.eq (i32.load8_u (local.get $fs)) (i32.const 45))
      (then
        (local.set $c (i32.load8_u (i32.add (local.get $fs) (i32.const 1))))
        (if (i32.or (i32.eq (local.get $c) (global.get $sep)) (i32.eq (local.get $c) (i32.const 10)))
          (then (return (i32.add (local.get $fs) (i32.const 1)))))))
    (local.set $s (local.get $fs))
    (loop $next
      (local.set $e (i32.const -1))
      (if (i32.lt_u (i32.sub (i32.load8_u (local.get $s)) (i32.const 48)) (i32.const 10))
        (then
          (local.set $e (call $ipv4 (local.get $s) (global.get $setSep)))
          (if (i32.ge_s (local.get $e) (i32.const 0))
            (then (local.set $hit (i32.or (local.get $hit) (call $mayHoldV4 (global.get $addr))))))))
      (if (i32.lt_s (local.get $e) (i32.const 0))
        (then
          (local.set $e (call $elementEnd (local.get $s)))
          (if (i32.gt_u (local.get $e) (local.get $s))
            (then (local.set $hit (i32.or (local.get $hit) (call $host (local.get $s) (local.get $e) (global.get $setSep))))))))
      (if (i32.eq (i32.load8_u (local.get $e)) (global.get $setSep))
        (then (local.set $s (i32.add (local.get $e) (i32.const 1))) (br $next))))
    (i32.or (local.get $e) (i32.shl (local.get $hit) (i32.const 31))))

  ;; 1 when the field [$fs, $e) is the unset mark '-'.
  (func $unset (param $fs i32) (param $e i32) (result i32)
    (i32.and (i32.eq (i32.sub (local.get $e) (local.get $fs)) (i32.const 1)) (i32.eq (i32.load8_u (local.get $fs)) (i32.const 45))))

  ;; Walks the line at $pos: returns the end of the field where the walk stopped; bit 31 set
  ;; when the line is flagged.
  (func $line (param $pos i32) (result i32)
    (local $col i32) (local $fs i32) (local $e i32) (local $role i32) (local $hit i32)
    (local.set $fs (local.get $pos))
    (loop $next
      (local.set $role (i32.load8_u (i32.add (global.get $roles) (local.get $col))))
      (if (i32.eqz (local.get $role))
        (then (local.set $e (call $fieldEnd (local.get $fs))))
        (else (if (i32.eq (local.get $role) (i32.const 1))
          (then
            (local.set $e (call $ipv4 (local.get $fs) (global.get $sep)))
            (if (i32.ge_s (local.get $e) (i32.const 0))
              (then (local.set $hit (call $mayHoldV4 (global.get $addr))))
              (else
                (local.set $e (call $fieldEnd (local.get $fs)))
                (local.set $hit (i32.eqz (call $unset (local.get $fs) (local.get $e)))))))
          (else (if (i32.eq (local.get $role) (i32.const 3))
            (then
              (local.set $e (call $fieldEnd (local.get $fs)))
              (if (i32.and (i32.gt_u (local.get $e) (local.get $fs)) (i32.eqz (call $unset (local.get $fs) (local.get $e))))
                (then (local.set $hit (call $host (local.get $fs) (local.get $e) (global.get $sep))))))
            (else
              (local.set $e (call $list (local.get $fs)))
              (local.set $hit (i32.shr_u (local.get $e) (i32.const 31)))
              (local.set $e (i32.and (local.get $e) (i32.const 0x7fffffff)))))))))
      (if (local.get $hit) (then (return (i32.or (local.get $e) (i32.const 0x80000000)))))
      (if (i32.eq (i32.load8_u (local.get $e)) (i32.const 10))
        (then (return (i32.or (local.get $e)
          (i32.shl (i32.lt_u (local.get $col) (global.get $last)) (i32.const 31))))))
      (if (i32.lt_u (local.get $col) (global.get $last))
        (then
          (local.set $fs (i32.add (local.get $e) (i32.const 1)))
          (local.set $col (i32.add (local.get $col) (i32.const 1)))
          (br $next))))
    (local.get $e))

  ;; Walks the records of [$pos, $end) (byte addresses) until the end, a line starting with '#',
  ;; '{' or a newline, or `cap` flagged lines; writes (offset from $base, line number from 0) of
  ;; each flagged line at `out` and returns where it stopped, as an offset from $base.
  (func (export "scan") (param $base i32) (param $pos i32) (param $end i32) (param $out i32) (param $cap i32) (result i32)
    (local $c i32) (local $r i32) (local $nl i32)
    (global.set $lines (i32.const 0))
    (global.set $flagged (i32.const 0))
    (block $stop
      (loop $next
        (br_if $stop (i32.ge_u (local.get $pos) (local.get $end)))
        (br_if $stop (i32.eq (global.get $flagged) (local.get $cap)))
        (local.set $c (i32.load8_u (local.get $pos)))
        (br_if $stop (i32.or (i32.eq (local.get $c) (i32.const 35))
          (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 10)))))
        (local.set $r (call $line (local.get $pos)))
        (local.set $nl (i32.and (local.get $r) (i32.const 0x7fffffff)))
        (if (i32.ne (i32.load8_u (local.get $nl)) (i32.const 10))
          (then (local.set $nl (call $lineEnd (local.get $nl)))))
        (if (i32.or (i32.shr_u (local.get $r) (i32.const 31)) (i32.gt_u (i32.sub (local.get $nl) (local.get $pos)) (i32.const 65536)))
          (then
            (i32.store (i32.add (local.get $out) (i32.shl (global.get $flagged) (i32.const 3))) (i32.sub (local.get $pos) (local.get $base)))
            (i32.store (i32.add (local.get $out) (i32.add (i32.shl (global.get $flagged) (i32.const 3)) (i32.const 4))) (global.get $lines))
            (global.set $flagged (i32.add (global.get $flagged) (i32.const 1)))))
        (global.set $lines (i32.add (global.get $lines) (i32.const 1)))
        (local.set $pos (i32.add (local.get $nl) (i32.const 1)))
        (br $next)))
    (i32.sub (local.get $pos) (local.get $base)))
)
