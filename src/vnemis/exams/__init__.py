"""Graduation exam (kỳ thi tốt nghiệp THPT): registration, rooms, scores, results, look-up."""
