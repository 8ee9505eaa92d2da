-- Development seed for the initial schema: demo users, instructors, students, the fleet and a week of lessons.
-- Idempotent: every insert names its natural key in ON CONFLICT ... DO NOTHING, and ids are fixed,
-- so running it again changes nothing (and never overwrites rows someone edited by hand).

-- Supabase's auth.users rows behind the demo accounts (local development only).
INSERT INTO auth.users (id, email) VALUES
    ('6c1f0a52-8f3e-4b7a-9d21-3e5b7c9a1f01', 'maria.okafor@cfi-demo.test'),
    ('6c1f0a52-8f3e-4b7a-9d21-3e5b7c9a1f02', 'tom.lindqvist@cfi-demo.test'),
    ('b2d4e6f8-1a3c-4e5f-8a9b-0c1d2e3f4a01', 'priya.raman@cfi-demo.test'),
    ('b2d4e6f8-1a3c-4e5f-8a9b-0c1d2e3f4a02', 'jake.morrison@cfi-demo.test'),
    ('b2d4e6f8-1a3c-4e5f-8a9b-0c1d2e3f4a03', 'lena.fischer@cfi-demo.test')
ON CONFLICT (id) DO NOTHING;

INSERT INTO public.instructors (id, user_id, full_name, email, phone, cfi_certificate_number, certificate_expires_on, is_cfii) VALUES
    ('1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', '6c1f0a52-8f3e-4b7a-9d21-3e5b7c9a1f01',
     'Maria Okafor', 'maria.okafor@cfi-demo.test', '+1-555-0101', '3812045CFI', '2026-03-31', true),
    ('1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b02', '6c1f0a52-8f3e-4b7a-9d21-3e5b7c9a1f02',
     'Tom Lindqvist', 'tom.lindqvist@cfi-demo.test', NULL, '4410987CFI', '2025-11-30', false)
ON CONFLICT (id) DO NOTHING;

INSERT INTO public.students (id, user_id, full_name, email, phone, certificate_goal, primary_instructor_id) VALUES
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c01', 'b2d4e6f8-1a3c-4e5f-8a9b-0c1d2e3f4a01',
     'Priya Raman', 'priya.raman@cfi-demo.test', '+1-555-0142', 'private', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c02', 'b2d4e6f8-1a3c-4e5f-8a9b-0c1d2e3f4a02',
     'Jake Morrison', 'jake.morrison@cfi-demo.test', NULL, 'instrument', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c03', 'b2d4e6f8-1a3c-4e5f-8a9b-0c1d2e3f4a03',
     'Lena Fischer', 'lena.fischer@cfi-demo.test', '+1-555-0177', 'private', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b02')
ON CONFLICT (id) DO NOTHING;

-- aircraft ids are identity values, so the tail number is the key.
INSERT INTO public.aircraft (tail_number, make, model, hobbs_hours, is_airworthy) VALUES
    ('N172SP', 'Cessna', '172S Skyhawk', 4821.3, true),
    ('N738WK', 'Cessna', '172M Skyhawk', 9310.7, true),
    ('N4421P', 'Piper', 'PA-28-161 Warrior', 6102.0, false)
ON CONFLICT (tail_number) DO NOTHING;

-- An instructor teaches one lesson at a time: (instructor_id, scheduled_at) is the lesson's natural key.
INSERT INTO public.lessons (student_id, instructor_id, aircraft_id, scheduled_at, duration_minutes, status, notes)
SELECT v.student_id::uuid, v.instructor_id::uuid, a.id, v.scheduled_at::timestamptz, v.duration_minutes,
       v.status::public.lesson_status, v.notes
FROM (VALUES
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c01', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', 'N172SP',
     '2024-10-01 15:00+00', 90, 'completed', 'Steep turns within ACS limits; work on slow flight.'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c01', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', 'N172SP',
     '2024-10-04 15:00+00', 90, 'completed', 'Power-off stalls, first solo prep.'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c01', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', NULL,
     '2024-10-08 14:00+00', 60, 'scheduled', 'Ground: airspace and weather minimums.'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c02', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', 'N738WK',
     '2024-10-02 17:30+00', 120, 'completed', 'ILS 27 approaches under the hood.'),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c02', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b01', 'N738WK',
     '2024-10-09 17:30+00', 120, 'scheduled', NULL),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c03', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b02', 'N172SP',
     '2024-10-03 13:00+00', 90, 'no_show', NULL),
    ('a5c7e9f1-2b4d-4f6a-8c0e-1d3f5a7b9c03', '1e7a9c3b-5d2f-4a8e-b6c4-7f0e2d1a9b02', 'N172SP',
     '2024-10-05 13:00+00', 90, 'completed', 'Pattern work, crosswind landings.')
) AS v (student_id, instructor_id, tail_number, scheduled_at, duration_minutes, status, notes)
LEFT JOIN public.aircraft AS a ON a.tail_number = v.tail_number
ON CONFLICT (instructor_id, scheduled_at) DO NOTHING;
