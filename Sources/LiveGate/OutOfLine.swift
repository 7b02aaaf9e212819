/// A value kept on the heap with value semantics (copied when written while shared).
///
/// Why: the coordinator keeps large per-channel values in dictionaries, and a dictionary's
/// storage holds every slot at the value's full size — and a quarter to over half of the slots
/// are spare. At 2,000 live channels that was two to three kilobytes per publisher for the slots
/// alone (BENCHMARKS.md "Memory per publisher"); boxed, a slot is one pointer. Update through
/// the dictionary (or take the value out first): a copy held across a write makes the box
/// shared, and the write copies it.
struct OutOfLine<Value> {
    private final class Storage {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    private var storage: Storage

    init(_ value: Value) { storage = Storage(value) }

    var value: Value {
        // Borrowed, not returned: a getter would copy the whole value (retaining everything in
        // it) to read one member.
        _read { yield storage.value }
        _modify {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.value) }
            yield &storage.value
        }
    }
}
