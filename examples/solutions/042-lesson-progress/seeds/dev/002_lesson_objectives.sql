-- Development seed for feature 042: the private pilot objective catalogue (plus one instrument task)
-- and a little progress for the demo students of 001_flight_school.sql.
-- Idempotent: objectives are keyed by their ACS code, progress by (student_id, objective_id);
-- ON CONFLICT DO NOTHING never overwrites a level someone changed by hand.

INSERT INTO public.lesson_objectives (code, title, area_of_operation, certificate) VALUES
    ('PA.I.C', 'Weather Information', 'Preflight Preparation', 'private'),
    ('PA.I.E', 'National Airspace System', 'Preflight Preparation', 'private'),
    ('PA.II.A', 'Preflight Assessment', 'Preflight Procedures', 'private'),
    ('PA.IV.A', 'Normal Takeoff and Climb', 'Takeoffs, Landings, and Go-Arounds', 'private'),
    ('PA.IV.B', 'Normal Approach and Landing', 'Takeoffs, Landings, and Go-Arounds', 'private'),
    ('PA.IV.C', 'Soft-Field Takeoff and Climb', 'Takeoffs, Landings, and Go-Arounds', 'private'),
    ('PA.IV.E', 'Short-Field Takeoff and Maximum Performance Climb', 'Takeoffs, Landings, and Go-Arounds', 'private'),
    ('PA.IV.F', 'Short-Field Approach and Landing', 'Takeoffs, Landings, and Go-Arounds', 'private'),
    ('PA.IV.N', 'Go-Around/Rejected Landing', 'Takeoffs, Landings, and Go-Arounds', 'private'),
    ('PA.V.A', 'Steep Turns', 'Performance and Ground Reference Maneuvers', 'private'),
    ('PA.V.B', 'Ground Reference Maneuvers', 'Performance and Ground Reference Maneuvers', 'private'),
    ('PA.VII.A', 'Maneuvering During Slow Flight', 'Slow Flight and Stalls', 'private'),
    ('PA.VII.B', 'Power-Off Stalls', 'Slow Flight and Stalls', 'private'),
    ('PA.VII.C', 'Power-On Stalls', 'Slow Flight and Stalls', 'private'),
    ('PA.VIII.A', 'Straight-and-Level Flight', 'Basic Instrument Maneuvers', 'private'),
    ('PA.IX.B', 'Emergency Approach and Landing (Simulated)', 'Emergency Operations', 'private'),
    ('IR.VI.B', 'Precision Approach', 'Instrument Approach Procedures', 'instrument')
ON CONFLICT (code) DO NOTHING;

-- Progress of the demo students (skipped where 001's demo rows are absent, thanks to the joins).
INSERT INTO public.student_progress (student_id, objective_id, proficiency, last_evaluated_at, evaluated_by, instructor_notes)
SELECT s.id, o.id, v.proficiency::public.proficiency_level, v.evaluated_at::timestamptz, i.id, v.notes
FROM (VALUES
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c01', 'PA.V.A', 'practiced', '2024-10-01 16:30+00',
     '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', 'Holds altitude within 100 ft; rolls out late on the right turn.'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c01', 'PA.VII.B', 'introduced', '2024-10-04 16:30+00',
     '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', NULL),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c02', 'IR.VI.B', 'proficient', '2024-10-02 19:30+00',
     '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', 'Stable on the glideslope to minimums.'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c03', 'PA.IV.B', 'practiced', '2024-10-05 14:30+00',
     '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b02', 'Crosswind correction improving.')
) AS v (student_id, code, proficiency, evaluated_at, instructor_id, notes)
JOIN public.students AS s ON s.id = v.student_id::uuid
JOIN public.lesson_objectives AS o ON o.code = v.code
LEFT JOIN public.instructors AS i ON i.id = v.instructor_id::uuid
ON CONFLICT (student_id, objective_id) DO NOTHING;
