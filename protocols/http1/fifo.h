// A FIFO queue on a std::vector: unlike std::deque, an empty one owns no
// memory (libstdc++'s deque allocates a 512-byte block and its map up front),
// which matters at tens of thousands of idle connections with three queues
// each. pop_front() only advances a head index; the storage is reused once
// the queue drains.
#pragma once

#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace spanwire::http1 {

template <typename T>
class Fifo {
 public:
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;

  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    return items_.emplace_back(std::forward<Args>(args)...);
  }
  void push_back(T value) { items_.push_back(std::move(value)); }
  void pop_front() {
    items_[head_] = T{};  // release what the element owns now
    if (++head_ == items_.size()) {
      clear();
    } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();  // keeps the capacity: the next element costs no allocation
    head_ = 0;
  }
  iterator erase(iterator it) { return items_.erase(it); }
  iterator erase(iterator first, iterator last) { return items_.erase(first, last); }

  iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  const_iterator end() const { return items_.end(); }
  std::reverse_iterator<iterator> rbegin() { return std::reverse_iterator<iterator>(end()); }
  std::reverse_iterator<iterator> rend() { return std::reverse_iterator<iterator>(begin()); }

 private:
  std::vector<T> items_;
  size_t head_ = 0;
};

}  // namespace spanwire::http1
