"""Teaching tools: exercises with checkers, student/instructor notebooks, headless reproduction, the report, claims."""
