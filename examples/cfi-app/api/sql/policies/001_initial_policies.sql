-- Row level security of the initial schema (revision 3f9c2a7d1b84, api/alembic/versions/001_initial_schema.py).
-- The migration executes these exact statements; edit both together.
--
-- anon           reads the aircraft list (the public fleet page) and nothing else.
-- authenticated  a student signs up (creates their own row), sees and edits it, sees their own lessons and
--                the instructors who teach them; an instructor sees the lessons they teach, the students
--                they mentor, and schedules lessons. Instructor rows are created by the school (service_role).
-- service_role   everything (it bypasses RLS anyway; the policies state the intent).

-- Helpers for the policies. SECURITY DEFINER so a policy on one table can look up the caller's
-- student/instructor row without recursing through that table's own policies.
CREATE FUNCTION public.current_student_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$ SELECT s.id FROM public.students AS s WHERE s.user_id = auth.uid() $$;

CREATE FUNCTION public.current_instructor_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$ SELECT i.id FROM public.instructors AS i WHERE i.user_id = auth.uid() $$;

-- instructors
ALTER TABLE public.instructors ENABLE ROW LEVEL SECURITY;
CREATE POLICY instructors_select_own ON public.instructors
    FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY instructors_select_teaching ON public.instructors
    FOR SELECT TO authenticated
    USING (id IN (SELECT s.primary_instructor_id FROM public.students AS s WHERE s.user_id = (SELECT auth.uid()))
           OR id IN (SELECT l.instructor_id FROM public.lessons AS l
                     WHERE l.student_id = (SELECT public.current_student_id())));
CREATE POLICY instructors_update_own ON public.instructors
    FOR UPDATE TO authenticated
    USING (user_id = (SELECT auth.uid()))
    WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY instructors_all_service_role ON public.instructors
    FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY instructors_deny_anon ON public.instructors
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

-- students
ALTER TABLE public.students ENABLE ROW LEVEL SECURITY;
CREATE POLICY students_select_own ON public.students
    FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY students_select_mentored ON public.students
    FOR SELECT TO authenticated USING (primary_instructor_id = (SELECT public.current_instructor_id()));
CREATE POLICY students_insert_own ON public.students
    FOR INSERT TO authenticated WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY students_update_own ON public.students
    FOR UPDATE TO authenticated
    USING (user_id = (SELECT auth.uid()))
    WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY students_all_service_role ON public.students
    FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY students_deny_anon ON public.students
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

-- aircraft
ALTER TABLE public.aircraft ENABLE ROW LEVEL SECURITY;
CREATE POLICY aircraft_select_everyone ON public.aircraft
    FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY aircraft_all_service_role ON public.aircraft
    FOR ALL TO service_role USING (true) WITH CHECK (true);

-- lessons
ALTER TABLE public.lessons ENABLE ROW LEVEL SECURITY;
CREATE POLICY lessons_select_participant ON public.lessons
    FOR SELECT TO authenticated
    USING (student_id = (SELECT public.current_student_id())
           OR instructor_id = (SELECT public.current_instructor_id()));
CREATE POLICY lessons_insert_instructor ON public.lessons
    FOR INSERT TO authenticated WITH CHECK (instructor_id = (SELECT public.current_instructor_id()));
CREATE POLICY lessons_update_instructor ON public.lessons
    FOR UPDATE TO authenticated
    USING (instructor_id = (SELECT public.current_instructor_id()))
    WITH CHECK (instructor_id = (SELECT public.current_instructor_id()));
CREATE POLICY lessons_all_service_role ON public.lessons
    FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY lessons_deny_anon ON public.lessons
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

-- Table privileges as Supabase's API expects them; the policies above decide which rows.
GRANT SELECT ON public.aircraft TO anon;
GRANT SELECT ON public.instructors, public.students, public.aircraft, public.lessons TO authenticated;
GRANT UPDATE (full_name, phone) ON public.instructors TO authenticated;
GRANT INSERT (user_id, full_name, email, phone, certificate_goal) ON public.students TO authenticated;
GRANT UPDATE (full_name, phone, certificate_goal) ON public.students TO authenticated;
GRANT INSERT, UPDATE ON public.lessons TO authenticated;
GRANT ALL ON public.instructors, public.students, public.aircraft, public.lessons TO service_role;
