//! A raw heap block as the classic C benchmarks use one: allocated uninitialised, stamped at
//! both ends, checked when freed. Writing only the ends keeps the time on the allocator (as
//! `malloc` benchmarks do) while still catching blocks that overlap or were handed out twice.

use std::alloc::{alloc, dealloc, Layout};
use std::ptr::NonNull;

/// A block of `len` bytes from the global allocator, stamped with a tag at its first (up to
/// 8) bytes and at its last byte.
#[derive(Debug)]
pub struct Block {
    ptr: NonNull<u8>,
    len: usize,
    tag: u64,
}

// SAFETY: a Block exclusively owns its allocation (nothing else points into it), and the
// global allocator may free a block on any thread.
unsafe impl Send for Block {}

/// The byte stamped at the end of a block: depends on the tag and on the length.
fn tail(tag: u64, len: usize) -> u8 {
    (tag >> 56) as u8 ^ len as u8 ^ 0xa5
}

impl Block {
    /// Allocates `len` bytes (at least 1) and stamps them with `tag`.
    pub fn new(len: usize, tag: u64) -> Block {
        assert!(len >= 1, "a block has at least one byte");
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(p) else {
            std::alloc::handle_alloc_error(layout)
        };
        let head = tag.to_le_bytes();
        let n = Self::head_len(len);
        // SAFETY: `ptr` points to `len` writable bytes; `n < len` bytes are written at the
        // start, one byte at `len - 1`.
        unsafe {
            std::ptr::copy_nonoverlapping(head.as_ptr(), ptr.as_ptr(), n);
            ptr.as_ptr().add(len - 1).write(tail(tag, len));
        }
        Block { ptr, len, tag }
    }

    /// The layout of a block of `len` bytes (byte-aligned, as `Box<[u8]>`).
    fn layout(len: usize) -> Layout {
        match Layout::from_size_align(len, 1) {
            Ok(l) => l,
            Err(_) => panic!("block of {len} bytes is too large"),
        }
    }

    /// The length asked for.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: blocks have at least one byte (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The tag it was stamped with.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// How many bytes of the tag are stamped at the start: up to 8, clear of the last byte.
    fn head_len(len: usize) -> usize {
        (len - 1).min(8)
    }

    /// Whether both stamps are intact.
    pub fn intact(&self) -> bool {
        let n = Self::head_len(self.len);
        let mut head = [0u8; 8];
        // SAFETY: the first `n` bytes and the last one were written by `new` (and are left
        // alone by `touch_pages`); `n < len`.
        let last = unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), head.as_mut_ptr(), n);
            self.ptr.as_ptr().add(self.len - 1).read()
        };
        head[..n] == self.tag.to_le_bytes()[..n] && last == tail(self.tag, self.len)
    }

    /// Writes one byte in every 4 KiB of the block (faulting in every page of a large one),
    /// keeping the stamps.
    pub fn touch_pages(&mut self) {
        let mut off = 4096;
        while off < self.len - 1 {
            // SAFETY: `off < len - 1`, inside the block and clear of the tail stamp; the head
            // stamp is in the first 8 bytes, below 4096.
            unsafe { self.ptr.as_ptr().add(off).write(off as u8) };
            off += 4096;
        }
    }

    /// Checks the stamps and frees the block; returns its tag, or an error naming the damage.
    pub fn check_free(self) -> Result<u64, String> {
        if self.intact() {
            Ok(self.tag)
        } else {
            Err(format!(
                "block of {} bytes with tag {:016x} at {:p} was overwritten",
                self.len, self.tag, self.ptr
            ))
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once (here).
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_checked() {
        for len in [1, 2, 7, 8, 9, 100, 5000, 70_000] {
            let mut b = Block::new(len, 0x0123_4567_89ab_cdef ^ len as u64);
            b.touch_pages();
            assert!(b.intact(), "fresh block of {len}");
            assert_eq!(b.len(), len);
            // SAFETY: byte 0 is inside the block; overwriting it is what the check must see.
            unsafe { b.ptr.as_ptr().write(!b.ptr.as_ptr().read()) };
            assert!(!b.intact(), "damaged head of {len} not seen");
            assert!(b.check_free().is_err());
        }
        let b = Block::new(300, 9);
        // SAFETY: the last byte is inside the block.
        unsafe { b.ptr.as_ptr().add(299).write(0) };
        assert!(!b.intact(), "damaged tail not seen");
    }
}
