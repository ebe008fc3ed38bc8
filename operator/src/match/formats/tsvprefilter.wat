;; Zeek TSV prefilter (issue 15, docs/adr/2026-12-07-wasm-tsv-prefilter.md). Source of truth:
;; `npm run generate` assembles it into tsvprefilter.wasm.ts (base64), which CI checks for
;; staleness. tsvprefilter.ts is its only caller and documents the memory layout.
;;
;; `scan` walks the Zeek TSV records of the input copied into memory and keeps only the lines
;; that MAY hit or be rejected: a line is flagged when an IPv4 address of an address or name
;; column has its bit set in the network bitmap, when a label-aligned suffix of a name passes
;; the domain table's blocked filter, when a hash of an md5, sha1 or sha256 length passes the
;; hash table's filter, when an HTTP host passes the filter of the hosts that URL indicators
;; name (the record's URL may hit), or when anything is unusual (IPv6 or other non-IPv4 text
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
  (global $closure (mut i32) (i32.const 0))
  (global $hashFilter (mut i32) (i32.const 0))
  (global $hashShift (mut i32) (i32.const 0))
  (global $urlHostFilter (mut i32) (i32.const 0))
  (global $urlHostShift (mut i32) (i32.const 0))
  (global $hashSlots (mut i32) (i32.const 0))
  (global $hashMask (mut i32) (i32.const 0))
  (global $urlHostSlots (mut i32) (i32.const 0))
  (global $urlHostMask (mut i32) (i32.const 0))
  (global $closureMask (mut i32) (i32.const 0))
  (global $roles (mut i32) (i32.const 0))
  (global $jumps (mut i32) (i32.const 0))
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

  ;; Where the hash table's and the URL hosts' filters and slots live (byte addresses), their
  ;; filters' block shifts and their slot masks.
  (func (export "configureExact")
    (param $hashFilter i32) (param $hashShift i32) (param $hashSlots i32) (param $hashMask i32)
    (param $urlHostFilter i32) (param $urlHostShift i32) (param $urlHostSlots i32) (param $urlHostMask i32)
    (global.set $hashSlots (local.get $hashSlots))
    (global.set $hashMask (local.get $hashMask))
    (global.set $urlHostSlots (local.get $urlHostSlots))
    (global.set $urlHostMask (local.get $urlHostMask))
    (global.set $hashFilter (local.get $hashFilter))
    (global.set $hashShift (local.get $hashShift))
    (global.set $urlHostFilter (local.get $urlHostFilter))
    (global.set $urlHostShift (local.get $urlHostShift)))

  ;; Where the tables live (byte addresses) and the log's separators.
  (func (export "configure")
    (param $bitmap i32) (param $bitShift i32) (param $filter i32) (param $blockShift i32)
    (param $roles i32) (param $last i32) (param $sep i32) (param $setSep i32)
    (param $closure i32) (param $closureMask i32) (param $jumps i32)
    (global.set $jumps (local.get $jumps))
    (global.set $closure (local.get $closure))
    (global.set $closureMask (local.get $closureMask))
    (global.set $bitmap (local.get $bitmap))
    (global.set $bitShift (local.get $bitShift))
    (global.set $filter (local.get $filter))
    (global.set $blockShift (local.get $blockShift))
    (global.set $roles (local.get $roles))
    (global.set $last (local.get $last))
    (global.set $sep (local.get $sep))
    (global.set $setSep (local.get $setSep)))

  ;; The first newline at or after $p, sixteen bytes per step.
  (func $lineEnd (param $p i32) (result i32)
    (local $m i32)
    (loop $next
      (local.set $m (i8x16.bitmask (i8x16.eq (v128.load (local.get $p))
        (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))))
      (if (i32.eqz (local.get $m))
        (then (local.set $p (i32.add (local.get $p) (i32.const 16))) (br $next))))
    (i32.add (local.get $p) (i32.ctz (local.get $m))))

  ;; 1 when [$s, $e) is a strict dotted quad (no leading zeros), setting $addr (fields.ts parseIpv4Bytes).
  ;; Per octet, its up to three digits are read at once and decoded without a branch per byte
  ;; (bytes past $e may be read: the input is padded, and they only make the text invalid).
  (func $ipv4 (param $s i32) (param $e i32) (result i32)
    (local $a i32) (local $k i32) (local $d0 i32) (local $d1 i32) (local $d2 i32) (local $t1 i32) (local $t2 i32) (local $v i32)
    (loop $octet
      (local.set $d0 (i32.sub (i32.load8_u (local.get $s)) (i32.const 48)))
      (local.set $d1 (i32.sub (i32.load8_u offset=1 (local.get $s)) (i32.const 48)))
      (local.set $d2 (i32.sub (i32.load8_u offset=2 (local.get $s)) (i32.const 48)))
      (if (i32.ge_u (local.get $d0) (i32.const 10)) (then (return (i32.const 0))))
      (local.set $t1 (i32.lt_u (local.get $d1) (i32.const 10)))
      (local.set $t2 (i32.and (local.get $t1) (i32.lt_u (local.get $d2) (i32.const 10))))
      (local.set $v (select
        (select (i32.add (i32.add (i32.mul (local.get $d0) (i32.const 100)) (i32.mul (local.get $d1) (i32.const 10))) (local.get $d2))
          (i32.add (i32.mul (local.get $d0) (i32.const 10)) (local.get $d1)) (local.get $t2))
        (local.get $d0) (local.get $t1)))
      ;; A leading zero, or over 255.
      (if (i32.or (i32.and (local.get $t1) (i32.eqz (local.get $d0))) (i32.gt_u (local.get $v) (i32.const 255)))
        (then (return (i32.const 0))))
      (local.set $a (i32.or (i32.shl (local.get $a) (i32.const 8)) (local.get $v)))
      (local.set $s (i32.add (i32.add (local.get $s) (i32.const 1)) (i32.add (local.get $t1) (local.get $t2))))
      (if (i32.lt_u (local.get $k) (i32.const 3))
        (then
          (if (i32.ne (i32.load8_u (local.get $s)) (i32.const 46)) (then (return (i32.const 0))))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $octet))))
    (global.set $addr (local.get $a))
    (i32.eq (local.get $s) (local.get $e)))

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

  ;; bytetable.ts finish: the finished hash of unfinished hash $h.
  (func $finish (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x7feb352d)))
    (i32.or (i32.shr_u (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 15))) (i32.const 2)) (i32.const 1)))

  ;; 1 when the blocked filter at $f (block shift $shift) may hold the key of finished hash $h (bytetable.ts mayHold).
  (func $mayHoldIn (param $f i32) (param $shift i32) (param $h i32) (result i32)
    (local $g i32) (local $base i32)
    (local.set $base (i32.add (local.get $f) (i32.shl (i32.shr_u (local.get $h) (local.get $shift)) (i32.const 6))))
    (local.set $g (i32.mul (local.get $h) (i32.const 0x9e3779b1)))
    (i32.and
      (i32.ne (i32.const 0) (i32.and
        (i32.load (i32.add (local.get $base) (i32.shl (i32.shr_u (local.get $g) (i32.const 28)) (i32.const 2))))
        (i32.shl (i32.const 1) (i32.shr_u (local.get $g) (i32.const 23)))))
      (i32.ne (i32.const 0) (i32.and
        (i32.load (i32.add (local.get $base) (i32.shl (i32.and (i32.shr_u (local.get $g) (i32.const 19)) (i32.const 15)) (i32.const 2))))
        (i32.shl (i32.const 1) (i32.shr_u (local.get $g) (i32.const 14)))))))

  ;; 1 when a ByteTable (filter at $f, block shift $shift, slots at $slots, slot mask $mask) has a
  ;; key of finished hash $h: the filter first (cached), then the slots' hashes (bytetable.ts
  ;; probe, without the key compare that JavaScript then makes).
  (func $inTable (param $f i32) (param $shift i32) (param $slots i32) (param $mask i32) (param $h i32) (result i32)
    (local $slot i32) (local $p i32)
    (if (i32.eqz (call $mayHoldIn (local.get $f) (local.get $shift) (local.get $h))) (then (return (i32.const 0))))
    (local.set $slot (i32.and (local.get $h) (local.get $mask)))
    (loop $probe
      (local.set $p (i32.add (local.get $slots) (i32.shl (local.get $slot) (i32.const 3))))
      (if (i32.eqz (i32.load offset=4 (local.get $p))) (then (return (i32.const 0))))
      (if (i32.eq (i32.load (local.get $p)) (local.get $h)) (then (return (i32.const 1))))
      (local.set $slot (i32.and (i32.add (local.get $slot) (i32.const 1)) (local.get $mask)))
      (br $probe))
    (i32.const 1))

  ;; 1 when the domain filter may hold the key of finished hash $h.
  (func $mayHold (param $h i32) (result i32)
    (call $mayHoldIn (global.get $filter) (global.get $blockShift) (local.get $h)))

  ;; The unfinished case-folded hash of the whole of [$s, $e) (bytetable.ts hashBytes, fold).
  (func $hashAll (param $s i32) (param $e i32) (result i32)
    (local $h i32) (local $i i32) (local $n i32)
    (local.set $h (i32.const 0x811c9dc5))
    (local.set $i (local.get $e))
    (block $done
      (loop $word
        (br_if $done (i32.lt_s (i32.sub (local.get $i) (local.get $s)) (i32.const 4)))
        (local.set $i (i32.sub (local.get $i) (i32.const 4)))
        (local.set $h (call $step (local.get $h) (i32.or (i32.load (local.get $i)) (i32.const 0x20202020))))
        (br $word)))
    (local.set $n (i32.sub (local.get $i) (local.get $s)))
    (if (i32.gt_s (local.get $n) (i32.const 0))
      (then (local.set $h (call $step (local.get $h)
        (i32.and (i32.or (i32.load (local.get $s)) (i32.const 0x20202020))
          (i32.shr_u (i32.const -1) (i32.shl (i32.sub (i32.const 4) (local.get $n)) (i32.const 3))))))))
    (local.get $h))

  ;; 1 when the suffix closure (suffixclosure.ts) may hold finished hash $h: some listed domain
  ;; may end with '.' and that suffix. 0 is exact: no longer suffix can be listed.
  (func $inClosure (param $h i32) (result i32)
    (local.set $h (i32.and (local.get $h) (global.get $closureMask)))
    (i32.and (i32.shr_u (i32.load8_u (i32.add (global.get $closure) (i32.shr_u (local.get $h) (i32.const 3))))
      (i32.and (local.get $h) (i32.const 7))) (i32.const 1)))

  ;; 1 when the name [$s, $e) or a label-aligned suffix of it may be a listed domain: the same
  ;; walk as suffixtable.ts longestSuffixBytes (words right to left, right-aligned at the end;
  ;; dots per word by an exact zero-byte mask; a suffix inside a word is the running hash plus
  ;; the word shifted right), stopping at the first suffix the filter may hold, or (0) at the
  ;; first suffix outside the suffix closure: no listed domain ends with it, so none is longer.
  (func $domain (param $s i32) (param $e i32) (result i32)
    (local $h i32) (local $i i32) (local $skip i32) (local $raw i32) (local $w i32) (local $m i32) (local $b i32) (local $k i32) (local $x i32) (local $f i32)
    (if (i32.and (i32.gt_u (local.get $e) (local.get $s)) (i32.eq (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 46)))
      (then (local.set $e (i32.sub (local.get $e) (i32.const 1)))))
    (local.set $h (i32.const 0x811c9dc5))
    (local.set $i (i32.sub (local.get $e) (i32.const 4)))
    (block $done
      (loop $word
        (br_if $done (i32.le_s (local.get $i) (i32.sub (local.get $s) (i32.const 4))))
        (local.set $skip (select (i32.sub (local.get $s) (local.get $i)) (i32.const 0) (i32.lt_s (local.get $i) (local.get $s))))
        (local.set $raw (i32.and (i32.load (local.get $i)) (i32.shl (i32.const -1) (i32.shl (local.get $skip) (i32.const 3)))))
        (local.set $w (i32.or (local.get $raw) (i32.const 0x20202020)))
        ;; Exact zero-byte mask of raw ^ '....': bit 7 of each byte that is a dot.
        (local.set $x (i32.xor (local.get $raw) (i32.const 0x2e2e2e2e)))
        (local.set $m (i32.and
          (i32.xor (i32.or (i32.or (i32.add (i32.and (local.get $x) (i32.const 0x7f7f7f7f)) (i32.const 0x7f7f7f7f)) (local.get $x)) (i32.const 0x7f7f7f7f)) (i32.const -1))
          (i32.shl (i32.const -1) (i32.shl (local.get $skip) (i32.const 3)))))
        (block $dotsDone
          (loop $dot
            (br_if $dotsDone (i32.eqz (local.get $m)))
            (local.set $b (i32.sub (i32.const 31) (i32.clz (local.get $m))))
            (local.set $m (i32.xor (local.get $m) (i32.shl (i32.const 1) (local.get $b))))
            (local.set $k (i32.add (i32.shr_u (local.get $b) (i32.const 3)) (i32.const 1)))
            (local.set $f (call $finish (select (local.get $h)
                  (call $step (local.get $h) (i32.shr_u (local.get $w) (i32.shl (local.get $k) (i32.const 3))))
                  (i32.eq (local.get $k) (i32.const 4)))))
            (if (call $mayHold (local.get $f)) (then (return (i32.const 1))))
            (if (i32.eqz (call $inClosure (local.get $f))) (then (return (i32.const 0))))
            (br $dot)))
        (local.set $h (call $step (local.get $h) (i32.shr_u (local.get $w) (i32.shl (local.get $skip) (i32.const 3)))))
        (local.set $i (i32.sub (local.get $i) (i32.const 4)))
        (br $word)))
    (if (i32.gt_u (local.get $e) (local.get $s)) (then (return (call $mayHold (call $finish (local.get $h))))))
    (i32.const 0))

  ;; 1 when the host field or element [$s, $e) (non-empty) may hit, or is unusual (fields.ts hostBytes).
  (func $host (param $s i32) (param $e i32) (result i32)
    (local $c i32)
    (local.set $c (i32.load8_u (local.get $s)))
    (if (i32.or (i32.eq (local.get $c) (i32.const 58)) (i32.eq (local.get $c) (i32.const 91)))
      (then (return (i32.const 1))))
    (if (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))
      (then
        (if (call $ipv4 (local.get $s) (local.get $e)) (then (return (call $mayHoldV4 (global.get $addr)))))
        (return (i32.const 1))))
    (call $domain (local.get $s) (local.get $e)))

  ;; The first set separator in [$s, $e), or $e; sixteen bytes per step (the input is padded).
  (func $elementEnd (param $s i32) (param $e i32) (result i32)
    (local $m i32)
    (loop $next
      (local.set $m (i8x16.bitmask (i8x16.eq (v128.load (local.get $s)) (i8x16.splat (global.get $setSep)))))
      (if (i32.eqz (local.get $m))
        (then
          (local.set $s (i32.add (local.get $s) (i32.const 16)))
          (br_if $next (i32.lt_u (local.get $s) (local.get $e)))
          (return (local.get $e)))))
    (select (local.get $e) (i32.add (local.get $s) (i32.ctz (local.get $m)))
      (i32.gt_u (i32.add (local.get $s) (i32.ctz (local.get $m))) (local.get $e))))

  ;; 1 when an element of the set or vector [$fs, $e) may hit or is unusual ('-' alone is unset).
  (func $list (param $fs i32) (param $e i32) (result i32)
    (local $s i32) (local $x i32)
    (if (i32.and (i32.eq (i32.sub (local.get $e) (local.get $fs)) (i32.const 1)) (i32.eq (i32.load8_u (local.get $fs)) (i32.const 45)))
      (then (return (i32.const 0))))
    (local.set $s (local.get $fs))
    (loop $element
      (local.set $x (call $elementEnd (local.get $s) (local.get $e)))
      (if (i32.gt_u (local.get $x) (local.get $s))
        (then (if (call $host (local.get $s) (local.get $x)) (then (return (i32.const 1))))))
      (if (i32.lt_u (local.get $x) (local.get $e))
        (then (local.set $s (i32.add (local.get $x) (i32.const 1))) (br $element))))
    (i32.const 0))

  ;; 1 when the name (3), hash (5) or HTTP host (7) field [$fs, $e) may hit or is unusual; '-' is unset.
  (func $named (param $role i32) (param $fs i32) (param $e i32) (result i32)
    (local $n i32)
    (local.set $n (i32.sub (local.get $e) (local.get $fs)))
    (if (i32.and (i32.eq (local.get $n) (i32.const 1)) (i32.eq (i32.load8_u (local.get $fs)) (i32.const 45)))
      (then (return (i32.const 0))))
    ;; A hash: only hex of an md5, sha1 or sha256 length is looked up (fields.ts hashBytes).
    (if (i32.eq (local.get $role) (i32.const 5))
      (then
        (if (i32.or (i32.eq (local.get $n) (i32.const 32)) (i32.or (i32.eq (local.get $n) (i32.const 40)) (i32.eq (local.get $n) (i32.const 64))))
          (then (return (call $inTable (global.get $hashFilter) (global.get $hashShift) (global.get $hashSlots) (global.get $hashMask)
            (call $finish (call $hashAll (local.get $fs) (local.get $e)))))))
        (return (i32.const 0))))
    (if (i32.gt_u (local.get $n) (i32.const 0))
      (then (if (call $host (local.get $fs) (local.get $e)) (then (return (i32.const 1))))))
    ;; An HTTP host may also make the record's URL (host + uri) a hit when a URL indicator names it.
    (if (i32.eq (local.get $role) (i32.const 7))
      (then (return (call $inTable (global.get $urlHostFilter) (global.get $urlHostShift) (global.get $urlHostSlots) (global.get $urlHostMask)
        (call $finish (call $hashAll (local.get $fs) (local.get $e)))))))
    (i32.const 0))

  ;; Walks the line at $pos: returns the end of the field where the walk stopped; bit 31 set
  ;; when the line is flagged. Separators and newlines are found from one mask per sixteen bytes;
  ;; a run of columns that cannot match (`jumps`: its length, from its first column) is passed
  ;; in one step by counting mask bits, and a newline inside it flags the line (too short).
  (func $line (param $pos i32) (result i32)
    (local $col i32) (local $fs i32) (local $e i32) (local $role i32) (local $hit i32)
    (local $blk i32) (local $tm i32) (local $nm i32) (local $n i32) (local $c i32) (local $low i32) (local $before i32)
    (local $v v128) (local $vs v128)
    (local.set $vs (i8x16.splat (global.get $sep)))
    (local.set $fs (local.get $pos))
    (local.set $blk (i32.sub (local.get $pos) (i32.const 16)))
    (loop $next
      (local.set $role (i32.load8_u (i32.add (global.get $roles) (local.get $col))))
      ;; Separators to pass: 1 for a column that may match, the run's length for one that cannot.
      (local.set $n (select (i32.const 1) (i32.load8_u (i32.add (global.get $jumps) (local.get $col))) (local.get $role)))
      (block $passed
        (loop $pass
          (if (i32.eqz (local.get $tm))
            (then
              (local.set $blk (i32.add (local.get $blk) (i32.const 16)))
              (local.set $v (v128.load (local.get $blk)))
              (local.set $nm (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))))
              (local.set $tm (i32.or (local.get $nm) (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $vs)))))
              (br $pass)))
          (local.set $c (i32.popcnt (local.get $tm)))
          (br_if $passed (i32.ge_u (local.get $c) (local.get $n)))
          ;; The line ends inside the run: too short for the log's columns.
          (if (i32.and (local.get $tm) (local.get $nm))
            (then (return (i32.or (i32.add (local.get $blk) (i32.ctz (i32.and (local.get $tm) (local.get $nm)))) (i32.const 0x80000000)))))
          (local.set $col (i32.add (local.get $col) (local.get $c)))
          (local.set $n (i32.sub (local.get $n) (local.get $c)))
          (local.set $tm (i32.const 0))
          (br $pass)))
      ;; The n-th mask bit ends the run's last column; the bits before it are its separators.
      (local.set $before (local.get $tm))
      (block $at
        (loop $drop
          (br_if $at (i32.le_u (local.get $n) (i32.const 1)))
          (local.set $tm (i32.and (local.get $tm) (i32.sub (local.get $tm) (i32.const 1))))
          (local.set $col (i32.add (local.get $col) (i32.const 1)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $drop)))
      (local.set $low (i32.and (local.get $tm) (i32.sub (i32.const 0) (local.get $tm))))
      (if (i32.and (i32.and (local.get $before) (i32.sub (local.get $low) (i32.const 1))) (local.get $nm))
        (then (return (i32.or (i32.add (local.get $blk) (i32.ctz (i32.and (i32.and (local.get $before) (i32.sub (local.get $low) (i32.const 1))) (local.get $nm)))) (i32.const 0x80000000)))))
      (local.set $e (i32.add (local.get $blk) (i32.ctz (local.get $tm))))
      (local.set $tm (i32.xor (local.get $tm) (local.get $low)))
      (if (local.get $role)
        (then
          (if (i32.eq (local.get $role) (i32.const 1))
            (then
              (local.set $hit (if (result i32) (call $ipv4 (local.get $fs) (local.get $e))
                (then (call $mayHoldV4 (global.get $addr)))
                ;; Anything but '-' (IPv6, text, empty) goes to the JavaScript walk.
                (else (i32.eqz (i32.and (i32.eq (i32.sub (local.get $e) (local.get $fs)) (i32.const 1)) (i32.eq (i32.load8_u (local.get $fs)) (i32.const 45))))))))
            (else (if (i32.or (i32.eq (local.get $role) (i32.const 2)) (i32.eq (local.get $role) (i32.const 4)))
              (then (local.set $hit (call $list (local.get $fs) (local.get $e))))
              (else (local.set $hit (call $named (local.get $role) (local.get $fs) (local.get $e)))))))
          (if (local.get $hit) (then (return (i32.or (local.get $e) (i32.const 0x80000000)))))))
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
